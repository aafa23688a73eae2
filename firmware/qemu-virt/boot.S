/*
 * firmware/qemu-virt/boot.S: reset vector and start-up.
 *
 * QEMU starts CPU 0 at EL3, PC = 0 (secure flash, read-only), MMU and caches off. _flash_entry runs in
 * place from flash: it copies every loadable section from its load address in flash to its run
 * address (TEE RAM, and the non-secure agent in DRAM) and jumps to _start, which runs from TEE RAM:
 * it sets the EL3 stack and vectors, puts the system registers of every EL in a known state, zeroes
 * .bss and calls fw_start (C++: constructors, firmware_main, exit). With the MMU off every data access
 * is a Device access: all copies here are aligned 8-byte accesses.
 */

/* copy_section load, start, end: copy [start, end) from load (all 8-byte aligned). */
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
    copy_section __text_load, __text_start, __text_end
    copy_section __ro_load, __ro_start, __ro_end
    copy_section __data_load, __data_start, __data_end
    copy_section __ns_agent_load, __ns_agent_start, __ns_agent_load_end
    dsb     sy
    ic      iallu           /* code was written as data */
    dsb     sy
    isb
    ldr     x0, =_start
    br      x0
    .ltorg
    .size _flash_entry, . - _flash_entry

/* SCTLR values with the MMU, caches and alignment checks off (RES1 bits only, plus SA). */
#define SCTLR_EL3_RESET 0x30c50838
#define SCTLR_EL2_RESET 0x30c50838
#define SCTLR_EL1_RESET 0x30d00800
#define SCR_EL3_SECURE 0x430        /* RW | RES1 bits 5:4; NS = 0 */

    .section .text.start, "ax"
    .global _start
    .type _start, %function
_start:
    msr     daifset, #0xf
    ldr     x0, =__stack_el3_top
    mov     sp, x0
    ldr     x0, =fw_vectors_el3
    msr     vbar_el3, x0
    ldr     x0, =SCTLR_EL3_RESET
    msr     sctlr_el3, x0
    ldr     x0, =SCR_EL3_SECURE
    msr     scr_el3, x0
    msr     cptr_el3, xzr           /* no traps of FP/SIMD, trace, AMU to EL3 */
    /* Lower ELs: MMU off, no traps of FP/SIMD (the code is built general-regs-only anyway). */
    ldr     x0, =SCTLR_EL2_RESET
    msr     sctlr_el2, x0
    ldr     x0, =SCTLR_EL1_RESET
    msr     sctlr_el1, x0
    mov     x0, #0x33ff             /* CPTR_EL2: RES1 bits, TFP = 0 */
    msr     cptr_el2, x0
    mov     x0, #(3 << 20)          /* CPACR_EL1.FPEN = 0b11 */
    msr     cpacr_el1, x0
    mov     x0, #(1 << 31)          /* HCR_EL2.RW: EL1 is AArch64 */
    msr     hcr_el2, x0
    msr     vttbr_el2, xzr
    msr     cntvoff_el2, xzr
    isb

    /* Zero .bss (8-byte aligned at both ends). */
    ldr     x0, =__bss_start
    ldr     x1, =__bss_end
1:  cmp     x0, x1
    b.hs    2f
    str     xzr, [x0], #8
    b       1b
2:
    mov     x29, #0
    mov     x30, #0
    bl      fw_start                /* never returns */
3:  wfi
    b       3b
    .ltorg
    .size _start, . - _start
