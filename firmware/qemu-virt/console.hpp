// firmware/qemu-virt/console: text output of the image. By default everything goes to the PL011
// UART0 at 0x09000000 (QEMU's stdout with -nographic); it can be mirrored to, or replaced by, the
// semihosting debug channel (QEMU's stderr). With the MMU on, the UART page must be mapped (Device)
// at VA == PA.
//
// The formatter understands %% %c %s %d %i %u %x %X %p with the flags '-' and '0', a width (digits or
// '*'), and the length modifiers hh h l ll z j t. No floating point.
#pragma once

#include <cstdarg>
#include <cstdint>

namespace teemm::fw {

inline constexpr uint64_t kUart0Base = 0x09000000;

enum class ConsoleSink : unsigned { kUart = 1, kSemihosting = 2, kBoth = 3 };
void console_set_sink(ConsoleSink sink);
// The PL011 the UART sink writes to (default kUart0Base; e.g. the secure UART 0x09040000).
void console_set_uart(uint64_t base);

void uart_putc(char c);
void putc(char c);
void puts(const char* s);  // no newline added

[[gnu::format(printf, 1, 2)]] void printf(const char* fmt, ...);
void vprintf(const char* fmt, va_list args);

// Formats into buf (always NUL-terminated when size > 0); returns the length the full output needs.
[[gnu::format(printf, 3, 4)]] uint64_t snprintf(char* buf, uint64_t size, const char* fmt, ...);
uint64_t vsnprintf(char* buf, uint64_t size, const char* fmt, va_list args);

}  // namespace teemm::fw
