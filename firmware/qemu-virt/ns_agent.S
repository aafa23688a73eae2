/*
 * firmware/qemu-virt/ns_agent.S: the non-secure EL2 agent. Everything here is linked into non-secure
 * DRAM (NS_AGENT in the linker script): at non-secure EL2 the secure RAM the rest of the image runs
 * from cannot be read or fetched.
 *
 * fw_ns_el2_agent(job) runs at non-secure EL2 with the MMU of EL2 off. It installs the registers of
 * the job (HCR_EL2, VTCR_EL2, VTTBR_EL2 and the EL1 stage-1 regime), invalidates all EL1&0 TLB
 * entries, then performs job->count operations (AT of the EL1&0 or EL2 regime, or TLBI) and stores
 * PAR_EL1 after each AT into job->results. Returns the number of operations done. Layout: fw_abi.h.
 *
 * fw_vectors_el2_ns turns any exception taken at EL2 into `smc #FW_SMC_REPORT` to EL3, which prints
 * it and ends the run.
 */
#include "fw_abi.h"

    .section .ns_text, "ax"
    .global fw_ns_el2_agent
    .type fw_ns_el2_agent, %function
fw_ns_el2_agent:
    ldr     x1, [x0, #FW_NSJOB_HCR]
    msr     hcr_el2, x1
    ldr     x1, [x0, #FW_NSJOB_VTCR]
    msr     vtcr_el2, x1
    ldr     x1, [x0, #FW_NSJOB_VTTBR]
    msr     vttbr_el2, x1
    ldr     x1, [x0, #FW_NSJOB_MAIR_EL1]
    msr     mair_el1, x1
    ldr     x1, [x0, #FW_NSJOB_TCR_EL1]
    msr     tcr_el1, x1
    ldr     x1, [x0, #FW_NSJOB_TTBR0_EL1]
    msr     ttbr0_el1, x1
    ldr     x1, [x0, #FW_NSJOB_SCTLR_EL1]
    msr     sctlr_el1, x1
    isb
    dsb     ishst
    tlbi    alle1
    tlbi    alle2
    dsb     ish
    isb

    ldr     x2, [x0, #FW_NSJOB_COUNT]
    mov     x3, #FW_NSJOB_MAX_OPS
    cmp     x2, x3
    csel    x2, x2, x3, ls
    add     x3, x0, #FW_NSJOB_OPS
    add     x4, x0, #(FW_NSJOB_RESULTS & 0xfff)
    add     x4, x4, #(FW_NSJOB_RESULTS & ~0xfff)
    mov     x8, #0                  /* operations done */
    adr     x7, 20f                 /* jump table base */

10: cmp     x8, x2
    b.hs    30f
    ldp     x5, x6, [x3], #16       /* op, address */
    cmp     x5, #FW_NSOP_COUNT
    b.hs    29f
    add     x5, x7, x5, lsl #3      /* 2 instructions per entry */
    br      x5
20: at      s1e1r, x6
    b       28f
    at      s1e1w, x6
    b       28f
    at      s12e1r, x6
    b       28f
    at      s12e1w, x6
    b       28f
    at      s1e2r, x6
    b       28f
    at      s1e2w, x6
    b       28f
    b       25f                     /* TLBI IPAS2E1 */
    nop
    b       26f                     /* TLBI ALLE1 */
    nop
25: lsr     x6, x6, #12
    dsb     ishst
    tlbi    ipas2e1, x6
    dsb     ish
    tlbi    vmalle1
    dsb     ish
    isb
    b       27f
26: dsb     ishst
    tlbi    alle1
    dsb     ish
    isb
27: str     xzr, [x4], #8
    b       29f
28: isb
    mrs     x5, par_el1
    str     x5, [x4], #8
29: add     x8, x8, #1
    b       10b
30: str     x8, [x0, #FW_NSJOB_DONE]
    dsb     sy
    mov     x0, x8
    ret
    .size fw_ns_el2_agent, . - fw_ns_el2_agent

/* fw_run_lower sets x30 to this for non-secure EL2: hand x0 back to EL3. */
    .global fw_ns_return_trampoline
    .type fw_ns_return_trampoline, %function
fw_ns_return_trampoline:
    smc     #FW_SMC_RETURN
1:  b       1b
    .size fw_ns_return_trampoline, . - fw_ns_return_trampoline

.macro ns_el2_slot kind
    .balign 0x80
    mov     x0, #\kind
    mrs     x1, esr_el2
    mrs     x2, elr_el2
    mrs     x3, far_el2
    mrs     x4, spsr_el2
    smc     #FW_SMC_REPORT
1:  b       1b
.endm

    .balign 0x800
    .global fw_vectors_el2_ns
fw_vectors_el2_ns:
    .irp kind, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    ns_el2_slot \kind
    .endr

    .section .ns_bss, "aw", %nobits
    .balign 4096
    .global fw_ns_el2_job
fw_ns_el2_job:
    .skip FW_NSJOB_SIZE
    .balign 16
    .global fw_ns_el2_stack_bottom
fw_ns_el2_stack_bottom:
    .skip 16384
    .global fw_ns_el2_stack_top
fw_ns_el2_stack_top:
