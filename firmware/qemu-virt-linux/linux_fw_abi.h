/*
 * firmware/qemu-virt-linux/linux_fw_abi.h: numbers shared by the assembly files and the C++ side of
 * the Linux firmware (the EL3 monitor and the secure-EL1 core). Plain preprocessor constants only,
 * so that both the assembler and the compiler can include it; the C++ side checks its structures
 * against them with static_assert.
 */
#ifndef TEEMM_LINUX_FW_ABI_H
#define TEEMM_LINUX_FW_ABI_H

/* ---- One world's saved state at EL3 (el3_entry.S <-> el3_monitor.cpp WorldContext) ----------- */
#define CTX_X0 0     /* x0..x30 at 8 * n */
#define CTX_ELR 248  /* ELR_EL3: where the world resumes */
#define CTX_SPSR 256 /* SPSR_EL3 */
#define CTX_SCR 264  /* SCR_EL3 while the world runs */
#define CTX_EL1 272  /* the EL1 system registers (saved and restored by the C++ side) */

/* Vector kinds passed to el3_lower_trap: slot index in the EL3 table (group * 4 + type). */
#define EL3_KIND_LOWER64_SYNC 8
#define EL3_KIND_LOWER64_IRQ 9
#define EL3_KIND_LOWER64_FIQ 10
#define EL3_KIND_LOWER64_SERROR 11

/* ---- Secure EL1 -> EL3: `smc #imm` ends what EL3 asked secure EL1 to do ---------------------- */
#define SEL1_SMC_INIT_DONE 1   /* x0 = 0 when the core is up, else a failure code */
#define SEL1_SMC_CALL_DONE 2   /* x0..x3 = the answer to the normal world's SMC */
#define SEL1_SMC_REPORT_DONE 3 /* x0 = 0 when the final state is clean, else 1 */
#define SEL1_SMC_PANIC 4       /* the secure world stopped (its log says why) */

/* ---- EL3 -> secure EL1: entry points, at fixed offsets from the core's base (sel1_entry.S) ---- */
#define SEL1_BASE 0x0e100000    /* TEE_RAM_RX of the qemu-virt platform */
#define SEL1_ENTRY_COLD 0x0     /* first boot: build the system, turn the MMU on */
#define SEL1_ENTRY_SMC 0x4      /* one SMC of the normal world: x0..x7 */
#define SEL1_ENTRY_REPORT 0x8   /* the final report (PSCI SYSTEM_OFF / SYSTEM_RESET) */

/* ---- Secure EL1 exception frame (sel1_entry.S <-> sel1_core.cpp) ------------------------------- */
#define SEL1_FRAME_ELR 248
#define SEL1_FRAME_SPSR 256
#define SEL1_FRAME_ESR 264
#define SEL1_FRAME_FAR 272
#define SEL1_FRAME_KIND 280
#define SEL1_FRAME_SIZE 288

#endif
