// firmware/qemu-virt/console.cpp: see console.hpp.
#include "console.hpp"

#include "semihosting.hpp"

namespace teemm::fw {
namespace {

constexpr uint64_t kUartDr = 0x00;
constexpr uint64_t kUartFr = 0x18;
constexpr uint32_t kUartFrTxff = 1u << 5;

ConsoleSink g_sink = ConsoleSink::kUart;
uint64_t g_uart = kUart0Base;

// Destination of the formatter: a buffer (possibly null) or the console.
struct Out {
  char* buf = nullptr;
  uint64_t size = 0;  // capacity of buf including the NUL
  uint64_t len = 0;   // characters produced so far
  bool to_console = false;
  char line[128];  // console output is gathered per line (one semihosting call per line)
  uint64_t line_len = 0;

  void flush_line() {
    if (line_len == 0) return;
    const unsigned sink = static_cast<unsigned>(g_sink);
    if (sink & static_cast<unsigned>(ConsoleSink::kUart)) {
      for (uint64_t i = 0; i < line_len; ++i) uart_putc(line[i]);
    }
    if (sink & static_cast<unsigned>(ConsoleSink::kSemihosting)) {
      line[line_len] = '\0';
      semihosting::write0(line);
    }
    line_len = 0;
  }

  void put(char c) {
    if (to_console) {
      line[line_len++] = c;
      if (c == '\n' || line_len == sizeof(line) - 1) flush_line();
    } else if (buf != nullptr && len + 1 < size) {
      buf[len] = c;
    }
    ++len;
  }
};

void put_repeat(Out& out, char c, int n) {
  for (int i = 0; i < n; ++i) out.put(c);
}

void put_padded(Out& out, const char* s, int n, int width, bool left, char pad) {
  if (!left) put_repeat(out, pad, width - n);
  for (int i = 0; i < n; ++i) out.put(s[i]);
  if (left) put_repeat(out, ' ', width - n);
}

void put_number(Out& out, uint64_t value, bool negative, unsigned base, bool upper, int width, bool left, bool zero) {
  char digits[24];
  int n = 0;
  const char* set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    digits[n++] = set[value % base];
    value /= base;
  } while (value != 0);
  const int total = n + (negative ? 1 : 0);
  if (!left && !zero) put_repeat(out, ' ', width - total);
  if (negative) out.put('-');
  if (!left && zero) put_repeat(out, '0', width - total);
  while (n > 0) out.put(digits[--n]);
  if (left) put_repeat(out, ' ', width - total);
}

void format(Out& out, const char* fmt, va_list args) {
  for (const char* p = fmt; *p != '\0'; ++p) {
    if (*p != '%') {
      out.put(*p);
      continue;
    }
    ++p;
    bool left = false;
    bool zero = false;
    for (;; ++p) {
      if (*p == '-')
        left = true;
      else if (*p == '0')
        zero = true;
      else
        break;
    }
    int width = 0;
    if (*p == '*') {
      width = va_arg(args, int);
      if (width < 0) {
        left = true;
        width = -width;
      }
      ++p;
    } else {
      while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
    }
    int longness = 0;  // 0 int, 1 long, 2 long long, -1 short, -2 char
    for (;; ++p) {
      if (*p == 'l')
        ++longness;
      else if (*p == 'h')
        --longness;
      else if (*p == 'z' || *p == 'j' || *p == 't')
        longness = 1;
      else
        break;
    }
    auto get_unsigned = [&]() -> uint64_t {
      if (longness >= 1) return va_arg(args, unsigned long);
      const unsigned v = va_arg(args, unsigned);
      if (longness == -1) return static_cast<unsigned short>(v);
      if (longness <= -2) return static_cast<unsigned char>(v);
      return v;
    };
    auto get_signed = [&]() -> int64_t {
      if (longness >= 1) return va_arg(args, long);
      const int v = va_arg(args, int);
      if (longness == -1) return static_cast<short>(v);
      if (longness <= -2) return static_cast<signed char>(v);
      return v;
    };
    switch (*p) {
      case '\0': return;
      case '%': out.put('%'); break;
      case 'c': {
        const char c = static_cast<char>(va_arg(args, int));
        put_padded(out, &c, 1, width, left, ' ');
        break;
      }
      case 's': {
        const char* s = va_arg(args, const char*);
        if (s == nullptr) s = "(null)";
        int n = 0;
        while (s[n] != '\0') ++n;
        put_padded(out, s, n, width, left, ' ');
        break;
      }
      case 'd':
      case 'i': {
        const int64_t v = get_signed();
        const uint64_t magnitude = v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
        put_number(out, magnitude, v < 0, 10, false, width, left, zero);
        break;
      }
      case 'u': put_number(out, get_unsigned(), false, 10, false, width, left, zero); break;
      case 'x':
      case 'X': put_number(out, get_unsigned(), false, 16, *p == 'X', width, left, zero); break;
      case 'p':
        out.put('0');
        out.put('x');
        put_number(out, reinterpret_cast<uint64_t>(va_arg(args, void*)), false, 16, false, width, left, zero);
        break;
      default:  // unknown conversion: show it as written
        out.put('%');
        out.put(*p);
        break;
    }
  }
}

}  // namespace

void console_set_sink(ConsoleSink sink) { g_sink = sink; }
void console_set_uart(uint64_t base) { g_uart = base; }

void uart_putc(char c) {
  auto* const fr = reinterpret_cast<volatile uint32_t*>(g_uart + kUartFr);
  auto* const dr = reinterpret_cast<volatile uint32_t*>(g_uart + kUartDr);
  while ((*fr & kUartFrTxff) != 0) {
  }
  *dr = static_cast<uint8_t>(c);
}

void putc(char c) {
  Out out;
  out.to_console = true;
  out.put(c);
  out.flush_line();
}

void puts(const char* s) {
  Out out;
  out.to_console = true;
  while (*s != '\0') out.put(*s++);
  out.flush_line();
}

void vprintf(const char* fmt, va_list args) {
  Out out;
  out.to_console = true;
  format(out, fmt, args);
  out.flush_line();
}

void printf(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vprintf(fmt, args);
  va_end(args);
}

uint64_t vsnprintf(char* buf, uint64_t size, const char* fmt, va_list args) {
  Out out;
  out.buf = buf;
  out.size = size;
  format(out, fmt, args);
  if (buf != nullptr && size > 0) buf[out.len < size ? out.len : size - 1] = '\0';
  return out.len;
}

uint64_t snprintf(char* buf, uint64_t size, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  const uint64_t n = vsnprintf(buf, size, fmt, args);
  va_end(args);
  return n;
}

}  // namespace teemm::fw
