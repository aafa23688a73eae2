# The core library's sources: everything under src/ except the host-only readers. Shared by the
# top-level build and the bare-metal firmware so that both always compile the same core.
# Sets TEEMM_CORE_SOURCES from TEEMM_SOURCE_ROOT (the repository root).
file(GLOB_RECURSE TEEMM_CORE_SOURCES CONFIGURE_DEPENDS
  ${TEEMM_SOURCE_ROOT}/src/base/*.cpp
  ${TEEMM_SOURCE_ROOT}/src/arch/*.cpp
  ${TEEMM_SOURCE_ROOT}/src/mm/*.cpp
  ${TEEMM_SOURCE_ROOT}/src/shm/*.cpp
  ${TEEMM_SOURCE_ROOT}/src/optee/*.cpp
  ${TEEMM_SOURCE_ROOT}/src/virt/*.cpp
  ${TEEMM_SOURCE_ROOT}/src/mediator/*.cpp
  ${TEEMM_SOURCE_ROOT}/src/platform/builtin/*.cpp)
