/*
 * firmware/qemu-virt-linux/payload.S: the secure-EL1 core (teemm_sel1.bin, a flat image that starts
 * at SEL1_BASE) inside the monitor's flash image; the flash stub copies it to TEE RAM.
 * TEEMM_SEL1_BIN is the absolute path of the binary (CMake).
 */
    .section .sel1_payload, "a"
    .balign 16
    .incbin TEEMM_SEL1_BIN
    .balign 16
