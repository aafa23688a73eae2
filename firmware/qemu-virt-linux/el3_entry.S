/*
 * firmware/qemu-virt-linux/el3_entry.S: reset vector, EL3 start-up, the EL3 exception vectors and
 * the world switch of the monitor.
 *
 * QEMU starts every CPU at EL3, PC = 0 (secure flash), MMU and caches off. _flash_entry parks every
 * CPU but CPU 0, copies the monitor from flash to the first MiB of secure RAM and the secure-EL1
 * core (the payload, linked at TEE_RAM_RX) to TEE RAM, and jumps to _start, which sets the EL3
 * stack and vectors and calls el3_main (C++). EL3 keeps its MMU off: it touches only its own RAM,
 * the GIC, the secure UART and the secure GPIO.
 *
 * While a lower EL runs, SP_EL3 points at that world's WorldContext (linux_fw_abi.h). A trap from
 * a lower EL saves x0..x30, ELR, SPSR and SCR into it, switches to the EL3 stack and calls
 *     WorldContext* el3_lower_trap(WorldContext* from, uint64_t kind)
 * which returns the context to resume (the same world, or the other one); el3_world_exit restores
 * it and ERETs. Exceptions taken from EL3 itself are bugs: el3_current_trap reports them.
 */
#include "linux_fw_abi.h"

.macro copy_section load, start, end
    ldr     x0, =\load
    ldr     x1, =\start
    ldr     x2, =\end
1:  cmp     x1, x2
    b.hs    2f
    ldr     x3, [x0], #8
    str     x3, [x1], #8
    b       1b
2:
.endm

    .section .boot, "ax"
    .global _flash_entry
    .type _flash_entry, %function
_flash_entry:
    msr     daifset, #0xf
    mrs     x0, mpidr_el1
    and     x0, x0, #0xffffff      /* Aff2..Aff0 */
    cbz     x0, 1f
0:  wfe                            /* secondaries: this firmware runs one CPU */
    b       0b
1:  copy_section __text_load, __text_start, __text_end
    copy_section __ro_load, __ro_start, __ro_end
    copy_section __data_load, __data_start, __data_end
    copy_section __payload_load, __payload_start, __payload_end
    dsb     sy
    ic      iallu                  /* code was written as data */
    dsb     sy
    isb
    ldr     x0, =_start
    br      x0
    .ltorg
    .size _flash_entry, . - _flash_entry

#define SCTLR_EL3_RESET 0x30c50838 /* MMU, caches, alignment checks off; RES1 bits; SA */
#define SCR_EL3_SECURE 0x430       /* RW | RES1 bits 5:4; NS = 0, SMD = 0, IRQ/FIQ/EA to EL1/EL2 */

    .section .text.start, "ax"
    .global _start
    .type _start, %function
_start:
    ldr     x0, =__el3_stack_top
    mov     sp, x0
    ldr     x0, =el3_vectors
    msr     vbar_el3, x0
    ldr     x0, =SCTLR_EL3_RESET
    msr     sctlr_el3, x0
    ldr     x0, =SCR_EL3_SECURE
    msr     scr_el3, x0
    msr     cptr_el3, xzr          /* no FP/SIMD, trace or AMU traps to EL3 */
    isb
    ldr     x0, =__bss_start
    ldr     x1, =__bss_end
1:  cmp     x0, x1
    b.hs    2f
    str     xzr, [x0], #8
    b       1b
2:  mov     x29, #0
    mov     x30, #0
    bl      el3_main               /* enters secure EL1 through el3_world_exit: never returns */
3:  wfi
    b       3b
    .ltorg
    .size _start, . - _start

/*
 * void el3_world_exit(WorldContext* ctx): resume a world. Its EL1 system registers must already be
 * in place (the C++ side restores them before choosing the world).
 */
    .section .text.el3_exit, "ax"
    .global el3_world_exit
    .type el3_world_exit, %function
el3_world_exit:
    mov     sp, x0
    ldp     x1, x2, [sp, #CTX_ELR]
    msr     elr_el3, x1
    msr     spsr_el3, x2
    ldr     x1, [sp, #CTX_SCR]
    msr     scr_el3, x1
    isb
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
    ldp     x0, x1, [sp, #0]
    eret
    .size el3_world_exit, . - el3_world_exit

/* A trap from a lower EL: SP_EL3 = the trapping world's context; x0/x1 saved, x1 = kind. */
el3_lower_common:
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
    mrs     x2, elr_el3
    mrs     x3, spsr_el3
    stp     x2, x3, [sp, #CTX_ELR]
    mrs     x2, scr_el3
    str     x2, [sp, #CTX_SCR]
    mov     x0, sp
    ldr     x2, =__el3_stack_top
    mov     sp, x2
    mov     x29, #0
    bl      el3_lower_trap         /* x0 = the context to resume */
    b       el3_world_exit
    .ltorg

/* An exception taken from EL3 itself, on the EL3 stack: x0/x1 saved in a frame, x1 = kind. */
el3_current_common:
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
    mrs     x2, elr_el3
    mrs     x3, spsr_el3
    stp     x2, x3, [sp, #CTX_ELR]
    mrs     x2, esr_el3
    mrs     x3, far_el3
    stp     x2, x3, [sp, #SEL1_FRAME_ESR]
    str     x1, [sp, #SEL1_FRAME_KIND]
    mov     x0, sp
    bl      el3_current_trap       /* never returns */
1:  wfi
    b       1b

.macro current_slot kind
    .balign 0x80
    sub     sp, sp, #SEL1_FRAME_SIZE
    stp     x0, x1, [sp, #0]
    mov     x1, #\kind
    b       el3_current_common
.endm

.macro lower_slot kind
    .balign 0x80
    stp     x0, x1, [sp, #0]
    mov     x1, #\kind
    b       el3_lower_common
.endm

    .section .text.el3_vectors, "ax"
    .balign 0x800
    .global el3_vectors
el3_vectors:
    current_slot 0
    current_slot 1
    current_slot 2
    current_slot 3
    current_slot 4
    current_slot 5
    current_slot 6
    current_slot 7
    lower_slot 8
    lower_slot 9
    lower_slot 10
    lower_slot 11
    lower_slot 12
    lower_slot 13
    lower_slot 14
    lower_slot 15
