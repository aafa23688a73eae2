/*
 * firmware/qemu-virt/vectors.S: exception vector tables for EL3 (VBAR_EL3) and secure EL1 (VBAR_EL1),
 * and the probe routines whose faults the handler recovers from.
 *
 * Every slot saves a full TrapFrame (fw_abi.h) on the current stack and calls
 *     void fw_exception(TrapFrame* frame, uint64_t kind | el << 8)
 * which either returns (the frame, possibly with a new ELR and x0, is restored and we eret) or exits
 * the run. The EL3 table also recognises the SMCs with which a lower EL hands control back
 * (lower_el.S). The non-secure EL2 table lives with the non-secure agent (ns_agent.S).
 */
#include "fw_abi.h"

/* One 0x80-byte slot: make room for the frame, save x0/x1, go to the common code of this EL. */
.macro vector_slot el, kind
    .balign 0x80
    sub     sp, sp, #FW_FRAME_SIZE
    stp     x0, x1, [sp, #FW_FRAME_X0]
    mov     x1, #(\kind | (\el << 8))
    b       fw_exception_entry_el\el
.endm

.macro vector_table el
    .balign 0x800
    .global fw_vectors_el\el
fw_vectors_el\el:
    vector_slot \el, 0
    vector_slot \el, 1
    vector_slot \el, 2
    vector_slot \el, 3
    vector_slot \el, 4
    vector_slot \el, 5
    vector_slot \el, 6
    vector_slot \el, 7
    vector_slot \el, 8
    vector_slot \el, 9
    vector_slot \el, 10
    vector_slot \el, 11
    vector_slot \el, 12
    vector_slot \el, 13
    vector_slot \el, 14
    vector_slot \el, 15
.endm

/* Common part: x1 = info; x0/x1 of the interrupted code are saved already. */
.macro exception_common el, label
\label:
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
    mrs     x2, elr_el\el
    mrs     x3, spsr_el\el
    stp     x2, x3, [sp, #FW_FRAME_ELR]
    mrs     x2, esr_el\el
    mrs     x3, far_el\el
    stp     x2, x3, [sp, #FW_FRAME_ESR]
    add     x2, sp, #FW_FRAME_SIZE
    stp     x2, x1, [sp, #FW_FRAME_SP]
    mov     x0, sp
    bl      fw_exception
    ldp     x2, x3, [sp, #FW_FRAME_ELR]
    msr     elr_el\el, x2
    msr     spsr_el\el, x3
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldr     x30, [sp, #240]
    ldp     x0, x1, [sp, #FW_FRAME_X0]
    add     sp, sp, #FW_FRAME_SIZE
    eret
.endm

    .section .text.vectors, "ax"
    vector_table 3
    vector_table 1

    .section .text.exception_common, "ax"

/* EL3: a synchronous exception from a lower AArch64 EL may be the SMC that ends a lower-EL call. */
fw_exception_entry_el3:
    cmp     x1, #(FW_VEC_LOWER64_SYNC | (3 << 8))
    b.ne    fw_exception_save_el3
    mrs     x0, esr_el3
    lsr     x1, x0, #26
    cmp     x1, #0x17               /* EC: SMC from AArch64 */
    b.ne    9f
    and     x0, x0, #0xffff
    cmp     x0, #FW_SMC_RETURN
    b.eq    fw_lower_el_returned    /* lower_el.S; the lower EL's x0 is in the frame */
9:  mov     x1, #(FW_VEC_LOWER64_SYNC | (3 << 8))
    ldr     x0, [sp, #FW_FRAME_X0]
    /* fall through with x0 restored, x1 = info */
    exception_common 3, fw_exception_save_el3
    exception_common 1, fw_exception_entry_el1

/*
 * Probes. Each returns 0 when the access completed and 1 when it faulted; the handler sees
 * fw_probe_recover != 0 on a synchronous exception from the current EL, records ESR/FAR/ELR into
 * fw_probe_fault, clears fw_probe_recover and resumes at the recovery label. Only caller-saved
 * registers are used, and the stack pointer at the recovery label equals the one at the fault.
 */
.macro arm_probe
    adr     x9, 8f
    adrp    x10, fw_probe_recover
    add     x10, x10, :lo12:fw_probe_recover
    str     x9, [x10]
.endm

.macro disarm_probe
    str     xzr, [x10]
.endm

    .section .text.probes, "ax"

/* int fw_probe_read64(uint64_t va, uint64_t* value) */
    .global fw_probe_read64
    .type fw_probe_read64, %function
fw_probe_read64:
    arm_probe
    ldr     x11, [x0]
    disarm_probe
    str     x11, [x1]
    mov     x0, #0
    ret
8:  mov     x0, #1
    ret
    .size fw_probe_read64, . - fw_probe_read64

/* int fw_probe_read8(uint64_t va, uint64_t* value) */
    .global fw_probe_read8
    .type fw_probe_read8, %function
fw_probe_read8:
    arm_probe
    ldrb    w11, [x0]
    disarm_probe
    str     x11, [x1]
    mov     x0, #0
    ret
8:  mov     x0, #1
    ret
    .size fw_probe_read8, . - fw_probe_read8

/* int fw_probe_read32(uint64_t va, uint64_t* value) */
    .global fw_probe_read32
    .type fw_probe_read32, %function
fw_probe_read32:
    arm_probe
    ldr     w11, [x0]
    disarm_probe
    str     x11, [x1]
    mov     x0, #0
    ret
8:  mov     x0, #1
    ret
    .size fw_probe_read32, . - fw_probe_read32

/* int fw_probe_write64(uint64_t va, uint64_t value) */
    .global fw_probe_write64
    .type fw_probe_write64, %function
fw_probe_write64:
    arm_probe
    str     x1, [x0]
    disarm_probe
    mov     x0, #0
    ret
8:  mov     x0, #1
    ret
    .size fw_probe_write64, . - fw_probe_write64

/* int fw_probe_write8(uint64_t va, uint64_t value) */
    .global fw_probe_write8
    .type fw_probe_write8, %function
fw_probe_write8:
    arm_probe
    strb    w1, [x0]
    disarm_probe
    mov     x0, #0
    ret
8:  mov     x0, #1
    ret
    .size fw_probe_write8, . - fw_probe_write8

/*
 * int fw_probe_execute(uint64_t va): branch with link to va. The target must return (e.g. hold a
 * `ret`) if it is executable; a fault on the fetch (or on whatever it executes) lands at the
 * recovery label, where our own x29/x30 come back from the stack.
 */
    .global fw_probe_execute
    .type fw_probe_execute, %function
fw_probe_execute:
    stp     x29, x30, [sp, #-16]!
    mov     x29, sp
    arm_probe
    blr     x0
    adrp    x10, fw_probe_recover
    add     x10, x10, :lo12:fw_probe_recover
    disarm_probe
    mov     x0, #0
    ldp     x29, x30, [sp], #16
    ret
8:  mov     x0, #1
    ldp     x29, x30, [sp], #16
    ret
    .size fw_probe_execute, . - fw_probe_execute

/* A page of `ret` instructions in .text: an executable target for fw_probe_execute anywhere in it. */
    .section .text.ret_page, "ax"
    .balign 4096
    .global fw_ret_page
fw_ret_page:
    .rept 1024
    ret
    .endr
    .size fw_ret_page, 4096
