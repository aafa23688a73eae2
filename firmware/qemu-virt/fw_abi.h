/*
 * firmware/qemu-virt/fw_abi.h: numbers shared by the assembly files and the C++ side. Plain
 * preprocessor constants only, so that both the assembler and the C++ compiler can include it; the
 * C++ side checks its structures against them with static_assert.
 */
#ifndef TEEMM_FW_ABI_H
#define TEEMM_FW_ABI_H

/* ---- Exception trap frame (vectors.S <-> exceptions.cpp TrapFrame) ------------------------------ */
#define FW_FRAME_X0 0       /* x0..x30 at 8 * n */
#define FW_FRAME_ELR 248
#define FW_FRAME_SPSR 256
#define FW_FRAME_ESR 264
#define FW_FRAME_FAR 272
#define FW_FRAME_SP 280     /* stack pointer at the time of the exception (same-EL SPx only) */
#define FW_FRAME_INFO 288   /* kind | el << 8 */
#define FW_FRAME_SIZE 304   /* multiple of 16 */

/* Vector kinds: the index of the 0x80-byte slot in the table (group * 4 + type). */
#define FW_VEC_CUR_SP0_SYNC 0
#define FW_VEC_CUR_SPX_SYNC 4
#define FW_VEC_LOWER64_SYNC 8

/* ---- Returning from a lower exception level to EL3 (lower_el.S) ------------------------------- */
#define FW_SMC_RETURN 0x7ee     /* smc #FW_SMC_RETURN, x0 = result: the lower-EL call is over */
#define FW_SMC_REPORT 0x7ef     /* smc #FW_SMC_REPORT from the NS-EL2 vectors: x0 = kind, x1 = ESR,
                                   x2 = ELR, x3 = FAR, x4 = SPSR of an exception taken at NS-EL2 */

/* Saved EL3 context while a lower EL runs (lower_el.S). */
#define FW_CTX_X19 0            /* x19..x30 at 8 * (n - 19) */
#define FW_CTX_SP 96
#define FW_CTX_SCR 104
#define FW_CTX_SIZE 112

/* ---- Secure EL0 probes (el0.S <-> el0.cpp) ----------------------------------------------------- */
#define FW_EL0_LOAD_OFFSET 0    /* in the EL0 page: ldr x1, [x0]; svc #FW_EL0_SVC_DONE */
#define FW_EL0_STORE_OFFSET 8   /* str x1, [x0]; svc #FW_EL0_SVC_DONE */
#define FW_EL0_LOAD32_OFFSET 16 /* ldr w1, [x0]; svc #FW_EL0_SVC_DONE */
#define FW_EL0_SVC_OFFSET 32    /* from here to the end of the page: svc #FW_EL0_SVC_FILL */
#define FW_EL0_SVC_DONE 0x70    /* the load or store completed */
#define FW_EL0_SVC_FILL 0x71    /* an EL0 fetch reached the page's svc fill */
#define FW_EL0_SVC_PLANTED 0x72 /* an EL0 fetch executed an svc planted at its target */
#define FW_SPSR_EL0T_MASKED 0x3c0
#define FW_SPSR_EL1H_MASKED 0x3c5

/* ---- Non-secure EL2 agent job (ns_agent.S <-> lower_el.hpp NsEl2Job) -------------------------- */
#define FW_NSJOB_HCR 0
#define FW_NSJOB_VTCR 8
#define FW_NSJOB_VTTBR 16
#define FW_NSJOB_SCTLR_EL1 24
#define FW_NSJOB_TCR_EL1 32
#define FW_NSJOB_TTBR0_EL1 40
#define FW_NSJOB_MAIR_EL1 48
#define FW_NSJOB_COUNT 56
#define FW_NSJOB_DONE 64
#define FW_NSJOB_OPS 128        /* FW_NSJOB_MAX_OPS x {op, address} */
#define FW_NSJOB_MAX_OPS 8192
#define FW_NSJOB_RESULTS (FW_NSJOB_OPS + 16 * FW_NSJOB_MAX_OPS)
#define FW_NSJOB_SIZE (FW_NSJOB_RESULTS + 8 * FW_NSJOB_MAX_OPS)

/* Operations of the agent; the result slot receives PAR_EL1 after AT (0 for TLBI). */
#define FW_NSOP_AT_S1E1R 0
#define FW_NSOP_AT_S1E1W 1
#define FW_NSOP_AT_S12E1R 2
#define FW_NSOP_AT_S12E1W 3
#define FW_NSOP_AT_S1E2R 4
#define FW_NSOP_AT_S1E2W 5
#define FW_NSOP_TLBI_IPAS2E1 6  /* address = IPA; followed by dsb ish; tlbi vmalle1; dsb; isb */
#define FW_NSOP_TLBI_ALLE1 7
#define FW_NSOP_COUNT 8

/* ---- Exit statuses (QEMU's exit status through semihosting SYS_EXIT) --------------------------- */
#define FW_EXIT_PASS 0
#define FW_EXIT_FAIL 1              /* firmware_main reported failures */
#define FW_EXIT_PANIC 2             /* fw::panic: a broken assumption of the firmware itself */
#define FW_EXIT_EXCEPTION 3         /* an unexpected exception at EL3 or S-EL1 */
#define FW_EXIT_NS_EL2_EXCEPTION 4  /* an exception taken at non-secure EL2 */
#define FW_EXIT_NESTED_EXCEPTION 5  /* an exception while handling an exception */

#endif
