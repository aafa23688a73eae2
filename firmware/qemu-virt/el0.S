/*
 * firmware/qemu-virt/el0.S: running a probe at secure EL0, from secure EL1.
 *
 * fw_el0_page is one page of .text (TEE_RAM_RX, where the core's map lets EL0 do nothing): the
 * load and store probes, then `svc` to the end of the page. el0.cpp maps that page a second time,
 * for EL0 (read + execute), at the EL0 window VA, and runs the probes there; the same page at
 * VA == PA is the target of EL0 fetches into tee-code, which must fault.
 *
 *   uint64_t fw_el0_call(uint64_t entry, uint64_t x0, uint64_t x1, uint64_t x30)
 *
 * From S-EL1: keeps the callee-saved registers on the S-EL1 stack, arms fw_el0_recover and ERETs
 * to `entry` at EL0 (SPSR = EL0t, interrupts masked) with x0, x1 and x30 as given. The first
 * exception EL0 takes to S-EL1 ends the call: fw_exception (exceptions.cpp) records it, disarms,
 * and resumes at the label below at EL1h with SP_EL1 as it was at the ERET; the callee-saved
 * registers come back from the stack, whatever EL0 did to them.
 */
#include "fw_abi.h"

    .section .text.el0_page, "ax"
    .balign 4096
    .global fw_el0_page
fw_el0_page:
    ldr     x1, [x0]                    /* FW_EL0_LOAD_OFFSET */
    svc     #FW_EL0_SVC_DONE
    str     x1, [x0]                    /* FW_EL0_STORE_OFFSET */
    svc     #FW_EL0_SVC_DONE
    ldr     w1, [x0]                    /* FW_EL0_LOAD32_OFFSET */
    svc     #FW_EL0_SVC_DONE
    .balign 32                          /* FW_EL0_SVC_OFFSET */
    .rept (4096 - FW_EL0_SVC_OFFSET) / 4
    svc     #FW_EL0_SVC_FILL
    .endr
    .size fw_el0_page, . - fw_el0_page

    .section .text.el0_call, "ax"
    .global fw_el0_call
    .type fw_el0_call, %function
fw_el0_call:
    sub     sp, sp, #96
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    adr     x9, 8f
    adrp    x10, fw_el0_recover
    str     x9, [x10, :lo12:fw_el0_recover]
    msr     elr_el1, x0
    mov     x9, #FW_SPSR_EL0T_MASKED
    msr     spsr_el1, x9
    mov     x0, x1
    mov     x1, x2
    mov     x30, x3
    isb
    eret
8:  ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    add     sp, sp, #96
    ret
    .size fw_el0_call, . - fw_el0_call
