/*
 * firmware/qemu-virt-linux/sel1_entry.S: the secure-EL1 core's entry points and its exception
 * vectors.
 *
 * EL3 enters the core only at sel1_entry_vector (SEL1_BASE) + SEL1_ENTRY_*, always at EL1h with
 * interrupts masked, and every entry starts on a fresh stack: nothing of the core lives on the
 * stack between two entries (a yielding call suspended in an RPC is kept in the dispatcher's
 * thread contexts). Each entry ends with `smc #SEL1_SMC_*`, which hands x0..x3 to EL3.
 */
#include "linux_fw_abi.h"

    .section .text.entry, "ax"
    .global sel1_entry_vector
sel1_entry_vector:
    b       sel1_cold               /* SEL1_ENTRY_COLD */
    b       sel1_smc                /* SEL1_ENTRY_SMC */
    b       sel1_report             /* SEL1_ENTRY_REPORT */

sel1_cold:
    ldr     x9, =__sel1_stack_top
    mov     sp, x9
    ldr     x9, =sel1_vectors
    msr     vbar_el1, x9
    isb
    ldr     x9, =__bss_start
    ldr     x10, =__bss_end
1:  cmp     x9, x10
    b.hs    2f
    str     xzr, [x9], #8
    b       1b
2:  mov     x29, #0
    mov     x30, #0
    bl      sel1_cold_init          /* x0 = 0 when the core is up */
    smc     #SEL1_SMC_INIT_DONE
    b       .

/* x0..x7 = the normal world's SMC; the answer goes back in x0..x3. */
sel1_smc:
    ldr     x9, =__sel1_stack_top
    mov     sp, x9
    sub     sp, sp, #64
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    mov     x29, #0
    mov     x30, #0
    mov     x0, sp
    bl      sel1_handle_smc         /* rewrites the eight words in place */
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    smc     #SEL1_SMC_CALL_DONE
    b       .

sel1_report:
    ldr     x9, =__sel1_stack_top
    mov     sp, x9
    mov     x29, #0
    mov     x30, #0
    bl      sel1_final_report       /* x0 = 0 when clean */
    smc     #SEL1_SMC_REPORT_DONE
    b       .
    .ltorg

/* Any exception taken at secure EL1 is a bug of the core: report it and stop the secure world. */
.macro sel1_slot kind
    .balign 0x80
    sub     sp, sp, #SEL1_FRAME_SIZE
    stp     x0, x1, [sp, #0]
    mov     x1, #\kind
    b       sel1_exception_common
.endm

    .section .text.sel1_vectors, "ax"
    .balign 0x800
    .global sel1_vectors
sel1_vectors:
    sel1_slot 0
    sel1_slot 1
    sel1_slot 2
    sel1_slot 3
    sel1_slot 4
    sel1_slot 5
    sel1_slot 6
    sel1_slot 7
    sel1_slot 8
    sel1_slot 9
    sel1_slot 10
    sel1_slot 11
    sel1_slot 12
    sel1_slot 13
    sel1_slot 14
    sel1_slot 15

sel1_exception_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    str     x30, [sp, #240]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #SEL1_FRAME_ELR]
    mrs     x2, esr_el1
    mrs     x3, far_el1
    stp     x2, x3, [sp, #SEL1_FRAME_ESR]
    str     x1, [sp, #SEL1_FRAME_KIND]
    mov     x0, sp
    bl      sel1_exception          /* reports, then smc #SEL1_SMC_PANIC: never returns */
    b       .
