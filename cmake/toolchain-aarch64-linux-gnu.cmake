# Cross toolchain for the freestanding core and the bare-metal firmware: Debian's
# g++-aarch64-linux-gnu, with the flags that make the core fit a TEE (no exceptions, no RTTI, no
# hosted runtime, no unaligned accesses while the MMU is off).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_CXX_FLAGS_INIT "-ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-pie -mgeneral-regs-only -mstrict-align -fno-stack-protector -mno-outline-atomics -march=armv8-a")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static -no-pie -nostdlib -nostartfiles")
