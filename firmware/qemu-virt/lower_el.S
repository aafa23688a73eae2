/*
 * firmware/qemu-virt/lower_el.S: run a function at secure EL1 or non-secure EL2 and come back.
 *
 *   uint64_t fw_run_lower(uint64_t arg, uint64_t entry, uint64_t stack_top, uint64_t target)
 *
 * target 1 = secure EL1 (SCR_EL3.NS = 0, SPSR = EL1h), 2 = non-secure EL2 (SCR_EL3 = 0x531,
 * SPSR = EL2h); interrupts stay masked. The callee-saved registers, SP and SCR_EL3 of the EL3 caller
 * are kept in fw_el3_context; the lower EL starts at entry with x0 = arg, SP = stack_top and
 * x30 = a trampoline that executes `smc #FW_SMC_RETURN`, so a plain return from entry comes back
 * here, with entry's return value. Code at the lower EL may also issue that SMC itself.
 * For non-secure EL2, entry, its stack and everything it touches must be in non-secure memory.
 */
#include "fw_abi.h"

#define SCR_EL3_SECURE 0x430    /* RW | RES1 */
#define SCR_EL3_NS_EL2 0x531    /* RW | HCE | RES1 | NS */
#define SPSR_EL1H_MASKED 0x3c5
#define SPSR_EL2H_MASKED 0x3c9

    .section .text.lower_el, "ax"
    .global fw_run_lower
    .type fw_run_lower, %function
fw_run_lower:
    adrp    x9, fw_el3_context
    add     x9, x9, :lo12:fw_el3_context
    stp     x19, x20, [x9, #0]
    stp     x21, x22, [x9, #16]
    stp     x23, x24, [x9, #32]
    stp     x25, x26, [x9, #48]
    stp     x27, x28, [x9, #64]
    stp     x29, x30, [x9, #80]
    mov     x10, sp
    mrs     x11, scr_el3
    stp     x10, x11, [x9, #FW_CTX_SP]
    msr     elr_el3, x1
    cmp     x3, #2
    b.eq    1f
    /* secure EL1 */
    msr     sp_el1, x2
    ldr     x10, =fw_vectors_el1
    msr     vbar_el1, x10
    ldr     x10, =SCR_EL3_SECURE
    msr     scr_el3, x10
    mov     x10, #SPSR_EL1H_MASKED
    msr     spsr_el3, x10
    ldr     x30, =fw_secure_return_trampoline
    b       2f
1:  /* non-secure EL2 */
    msr     sp_el2, x2
    ldr     x10, =fw_vectors_el2_ns
    msr     vbar_el2, x10
    ldr     x10, =SCR_EL3_NS_EL2
    msr     scr_el3, x10
    mov     x10, #SPSR_EL2H_MASKED
    msr     spsr_el3, x10
    ldr     x30, =fw_ns_return_trampoline
2:  isb
    eret
    .ltorg
    .size fw_run_lower, . - fw_run_lower

/*
 * Reached from the EL3 vectors (vectors.S) on `smc #FW_SMC_RETURN` from a lower EL, with SP_EL3
 * pointing at the trap frame, whose x0 is the lower EL's result. Restore the EL3 caller of
 * fw_run_lower and return to it.
 */
    .global fw_lower_el_returned
    .type fw_lower_el_returned, %function
fw_lower_el_returned:
    ldr     x0, [sp, #FW_FRAME_X0]
    adrp    x9, fw_el3_context
    add     x9, x9, :lo12:fw_el3_context
    ldp     x10, x11, [x9, #FW_CTX_SP]
    mov     sp, x10
    msr     scr_el3, x11
    isb
    ldp     x19, x20, [x9, #0]
    ldp     x21, x22, [x9, #16]
    ldp     x23, x24, [x9, #32]
    ldp     x25, x26, [x9, #48]
    ldp     x27, x28, [x9, #64]
    ldp     x29, x30, [x9, #80]
    ret
    .size fw_lower_el_returned, . - fw_lower_el_returned

/* Secure EL1 code returns here (x30 at entry): hand x0 back to EL3. */
    .global fw_secure_return_trampoline
    .type fw_secure_return_trampoline, %function
fw_secure_return_trampoline:
    smc     #FW_SMC_RETURN
1:  b       1b
    .size fw_secure_return_trampoline, . - fw_secure_return_trampoline

    .section .bss.fw_el3_context, "aw", %nobits
    .balign 16
    .global fw_el3_context
fw_el3_context:
    .skip FW_CTX_SIZE
