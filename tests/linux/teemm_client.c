/*
 * tests/linux/teemm_client.c: a static arm64 program that uses Linux's TEE ioctls (no libteec)
 * against teemm's built-in service, through Debian's OP-TEE driver and the real SMC ABI.
 *
 *   aarch64-linux-gnu-gcc -static -O2 -o teemm-client teemm_client.c
 *
 * What it does, each step checked (the secure side's answers against what this program computes):
 *   (a) shared memory the driver allocates: TEE_IOC_SHM_ALLOC + mmap, then CHECKSUM of random
 *       bytes (also of a sub-range at an offset) and FILL, verified in the mapping;
 *   (b) its own heap buffers from 4 KiB to 8 MiB (and a few odd sizes and offsets), registered with
 *       TEE_IOC_SHM_REGISTER (REGISTER_SHM with page lists), all live at once: CHECKSUM of each,
 *       then FILL of each, verified byte by byte;
 *   (c) a session to the service (UUID 5f8c2d10-3b7e-4d2a-9c61-7ee3317e5eed, login public);
 *   (d) RPC_ALLOC (the secure side asks the driver for memory with RETURN_RPC_ALLOC / FREE), also
 *       with an output memref, and RPC_CMD (RPC CMD SHM_ALLOC / SHM_FREE of kernel memory);
 * then releases everything: buffers unregistered (fds closed), session closed, device closed.
 * Prints one line per step and "teemm-client: PASS (N checks)" or "teemm-client: FAIL: ...".
 * Numbers and layouts: include/uapi/linux/tee.h (see linux-optee-driver.md section 5).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- include/uapi/linux/tee.h ------------------------------------------------------------------ */
#define TEE_IOC_VERSION 0x800CA400u
#define TEE_IOC_SHM_ALLOC 0xC010A401u
#define TEE_IOC_OPEN_SESSION 0x8010A402u
#define TEE_IOC_INVOKE 0x8010A403u
#define TEE_IOC_CLOSE_SESSION 0x8004A405u
#define TEE_IOC_SHM_REGISTER 0xC018A409u

#define TEE_IMPL_ID_OPTEE 1
#define TEE_GEN_CAP_REG_MEM (1u << 2)
#define TEE_IOCTL_LOGIN_PUBLIC 0

#define ATTR_VALUE_INPUT 1
#define ATTR_VALUE_OUTPUT 2
#define ATTR_VALUE_INOUT 3
#define ATTR_MEMREF_INPUT 5
#define ATTR_MEMREF_OUTPUT 6
#define ATTR_MEMREF_INOUT 7

struct tee_version {
  uint32_t impl_id, impl_caps, gen_caps;
};
struct tee_shm_alloc {
  uint64_t size;
  uint32_t flags;
  int32_t id;
};
struct tee_shm_register {
  uint64_t addr, length;
  uint32_t flags;
  int32_t id;
};
struct tee_buf {
  uint64_t buf_ptr, buf_len;
};
struct tee_param {
  uint64_t attr, a, b, c;
};
struct tee_open_session {
  uint8_t uuid[16];
  uint8_t clnt_uuid[16];
  uint32_t clnt_login, cancel_id, session, ret, ret_origin, num_params;
  struct tee_param params[4];
};
struct tee_invoke {
  uint32_t func, session, cancel_id, ret, ret_origin, num_params;
  struct tee_param params[4];
};
struct tee_close_session {
  uint32_t session;
};
_Static_assert(sizeof(struct tee_version) == 12, "version_data");
_Static_assert(sizeof(struct tee_shm_alloc) == 16, "shm_alloc_data");
_Static_assert(sizeof(struct tee_shm_register) == 24, "shm_register_data");
_Static_assert(sizeof(struct tee_param) == 32, "param");
_Static_assert(__builtin_offsetof(struct tee_open_session, params) == 56, "open_session_arg");
_Static_assert(__builtin_offsetof(struct tee_invoke, params) == 24, "invoke_arg");

/* ---- The built-in service (src/optee/service.hpp) ---------------------------------------------- */
static const uint8_t kServiceUuid[16] = {0x5f, 0x8c, 0x2d, 0x10, 0x3b, 0x7e, 0x4d, 0x2a,
                                         0x9c, 0x61, 0x7e, 0xe3, 0x31, 0x7e, 0x5e, 0xed};
#define CMD_CHECKSUM 0
#define CMD_FILL 1
#define CMD_RPC_ALLOC 2
#define CMD_RPC_CMD 3

static uint64_t fnv1a(uint64_t hash, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) hash = (hash ^ p[i]) * 0x100000001b3ull;
  return hash;
}
#define FNV_OFFSET 0xcbf29ce484222325ull
static unsigned char pattern(uint64_t seed, uint64_t i) { return (unsigned char)((seed + i) & 0xff); }

/* ---- Plumbing ------------------------------------------------------------------------------------- */
static int g_tee = -1;
static uint32_t g_session;
static unsigned g_checks;

static void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  printf("teemm-client: FAIL: ");
  vprintf(fmt, args);
  printf("\n");
  va_end(args);
  fflush(stdout);
  exit(1);
}

static void check(int ok, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char* fmt, ...) {
  ++g_checks;
  if (ok) return;
  va_list args;
  va_start(args, fmt);
  printf("teemm-client: FAIL: ");
  vprintf(fmt, args);
  printf("\n");
  va_end(args);
  fflush(stdout);
  exit(1);
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static void random_bytes(unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    p[i] = (unsigned char)(g_rng >> 24);
  }
}

/* One INVOKE_COMMAND; the TEE's ret must be 0. */
static void invoke(uint32_t func, struct tee_param* params, uint32_t count, const char* what) {
  struct tee_invoke arg;
  memset(&arg, 0, sizeof(arg));
  arg.func = func;
  arg.session = g_session;
  arg.num_params = count;
  memcpy(arg.params, params, count * sizeof(struct tee_param));
  struct tee_buf buf = {(uint64_t)(uintptr_t)&arg, 24 + 32 * (uint64_t)count};
  if (ioctl(g_tee, TEE_IOC_INVOKE, &buf) != 0) fail("%s: TEE_IOC_INVOKE: %s", what, strerror(errno));
  check(arg.ret == 0, "%s: ret 0x%08x origin %u", what, arg.ret, arg.ret_origin);
  memcpy(params, arg.params, count * sizeof(struct tee_param));
}

static struct tee_param memref(uint64_t attr, int id, uint64_t offset, uint64_t size) {
  struct tee_param p = {attr, offset, size, (uint64_t)id};
  return p;
}
static struct tee_param value(uint64_t attr, uint64_t a, uint64_t b) {
  struct tee_param p = {attr, a, b, 0};
  return p;
}

/* CHECKSUM of [offset, offset + size) of shm `id`, whose bytes this program sees at `bytes`. */
static void checksum_and_compare(int id, const unsigned char* bytes, uint64_t offset, uint64_t size, const char* what) {
  struct tee_param p[2] = {memref(ATTR_MEMREF_INPUT, id, offset, size), value(ATTR_VALUE_OUTPUT, 0, 0)};
  invoke(CMD_CHECKSUM, p, 2, what);
  const uint64_t expected = fnv1a(FNV_OFFSET, bytes + offset, size);
  check(p[1].a == expected && p[1].b == size, "%s: CHECKSUM 0x%016llx over %llu bytes, expected 0x%016llx over %llu",
        what, (unsigned long long)p[1].a, (unsigned long long)p[1].b, (unsigned long long)expected,
        (unsigned long long)size);
}

/* FILL of [offset, offset + size) with seed, then every byte checked (and the bytes around untouched). */
static void fill_and_verify(int id, const unsigned char* bytes, uint64_t total, uint64_t offset, uint64_t size,
                            uint64_t seed, const char* what) {
  unsigned char before = offset > 0 ? bytes[offset - 1] : 0;
  unsigned char after = offset + size < total ? bytes[offset + size] : 0;
  struct tee_param p[2] = {memref(ATTR_MEMREF_OUTPUT, id, offset, size), value(ATTR_VALUE_INPUT, seed, 0)};
  invoke(CMD_FILL, p, 2, what);
  for (uint64_t i = 0; i < size; ++i)
    if (bytes[offset + i] != pattern(seed, i))
      fail("%s: FILL byte %llu is 0x%02x, expected 0x%02x", what, (unsigned long long)i, bytes[offset + i],
           pattern(seed, i));
  ++g_checks;
  check((offset == 0 || bytes[offset - 1] == before) && (offset + size >= total || bytes[offset + size] == after),
        "%s: FILL wrote outside its range", what);
}

/* ---- The steps ---------------------------------------------------------------------------------- */
static void open_device(void) {
  g_tee = open("/dev/tee0", O_RDWR);
  if (g_tee < 0) fail("open /dev/tee0: %s", strerror(errno));
  struct tee_version v;
  if (ioctl(g_tee, TEE_IOC_VERSION, &v) != 0) fail("TEE_IOC_VERSION: %s", strerror(errno));
  printf("teemm-client: /dev/tee0: impl_id %u, impl_caps 0x%x, gen_caps 0x%x\n", v.impl_id, v.impl_caps, v.gen_caps);
  check(v.impl_id == TEE_IMPL_ID_OPTEE, "impl_id %u is not OP-TEE", v.impl_id);
  check((v.gen_caps & TEE_GEN_CAP_REG_MEM) != 0, "the driver offers no registered memory (gen_caps 0x%x)", v.gen_caps);
}

static void open_session(void) {
  struct tee_open_session arg;
  memset(&arg, 0, sizeof(arg));
  memcpy(arg.uuid, kServiceUuid, 16);
  arg.clnt_login = TEE_IOCTL_LOGIN_PUBLIC;
  struct tee_buf buf = {(uint64_t)(uintptr_t)&arg, 56};
  if (ioctl(g_tee, TEE_IOC_OPEN_SESSION, &buf) != 0) fail("TEE_IOC_OPEN_SESSION: %s", strerror(errno));
  check(arg.ret == 0, "OPEN_SESSION: ret 0x%08x origin %u", arg.ret, arg.ret_origin);
  g_session = arg.session;
  printf("teemm-client: session %u open to 5f8c2d10-3b7e-4d2a-9c61-7ee3317e5eed\n", g_session);
}

static void close_session(void) {
  struct tee_close_session arg = {g_session};
  if (ioctl(g_tee, TEE_IOC_CLOSE_SESSION, &arg) != 0) fail("TEE_IOC_CLOSE_SESSION: %s", strerror(errno));
  printf("teemm-client: session %u closed\n", g_session);
}

/* (a) driver-allocated shared memory. */
static void allocated_memory(uint64_t size) {
  struct tee_shm_alloc a = {size, 0, -1};
  const int fd = ioctl(g_tee, TEE_IOC_SHM_ALLOC, &a);
  if (fd < 0) fail("TEE_IOC_SHM_ALLOC %llu: %s", (unsigned long long)size, strerror(errno));
  unsigned char* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) fail("mmap of shm %d: %s", a.id, strerror(errno));
  char what[64];
  snprintf(what, sizeof(what), "SHM_ALLOC %llu (id %d)", (unsigned long long)size, a.id);
  random_bytes(p, size);
  checksum_and_compare(a.id, p, 0, size, what);
  checksum_and_compare(a.id, p, 123, size / 3, what);
  fill_and_verify(a.id, p, size, 0, size, 0x5a, what);
  fill_and_verify(a.id, p, size, 77, size / 2, 0x11, what);
  munmap(p, size);
  close(fd);
  printf("teemm-client: %s: checksums and fills verified, released\n", what);
}

/* (b) registered heap buffers. */
struct registered {
  unsigned char* block;  /* what malloc gave */
  unsigned char* bytes;  /* the registered range */
  uint64_t size;
  int fd, id;
};

static void register_buffer(struct registered* r, uint64_t size, uint64_t misalign) {
  r->block = malloc(size + misalign + 16);
  if (r->block == NULL) fail("malloc %llu", (unsigned long long)size);
  r->bytes = r->block + misalign;
  r->size = size;
  random_bytes(r->bytes, size);
  struct tee_shm_register a = {(uint64_t)(uintptr_t)r->bytes, size, 0, -1};
  r->fd = ioctl(g_tee, TEE_IOC_SHM_REGISTER, &a);
  if (r->fd < 0)
    fail("TEE_IOC_SHM_REGISTER %llu bytes at %p: %s", (unsigned long long)size, (void*)r->bytes, strerror(errno));
  r->id = a.id;
}

static void registered_memory(void) {
  enum { kMax = 24 };
  static const uint64_t kOdd[][2] = {{3, 0x7}, {4097, 0xff0}, {(1u << 20) + 7, 0x123}, {100000, 0x801}};
  struct registered r[kMax];
  int n = 0;
  uint64_t total = 0;
  for (uint64_t size = 4096; size <= (8u << 20); size *= 2, ++n) {
    register_buffer(&r[n], size, (uint64_t)(n % 3) * 0x440);
    total += size;
  }
  for (size_t i = 0; i < sizeof(kOdd) / sizeof(kOdd[0]); ++i, ++n) {
    register_buffer(&r[n], kOdd[i][0], kOdd[i][1]);
    total += kOdd[i][0];
  }
  printf("teemm-client: %d heap buffers registered (%llu KiB), all live at once\n", n,
         (unsigned long long)(total / 1024));
  for (int i = 0; i < n; ++i) {
    char what[64];
    snprintf(what, sizeof(what), "registered %llu bytes at +0x%llx (id %d)", (unsigned long long)r[i].size,
             (unsigned long long)((uintptr_t)r[i].bytes & 0xfff), r[i].id);
    checksum_and_compare(r[i].id, r[i].bytes, 0, r[i].size, what);
    if (r[i].size > 64) checksum_and_compare(r[i].id, r[i].bytes, r[i].size / 4, r[i].size / 2, what);
  }
  printf("teemm-client: CHECKSUM of every registered buffer matches\n");
  for (int i = 0; i < n; ++i) {
    char what[64];
    snprintf(what, sizeof(what), "registered %llu bytes (id %d)", (unsigned long long)r[i].size, r[i].id);
    fill_and_verify(r[i].id, r[i].bytes, r[i].size, 0, r[i].size, r[i].size, what);
  }
  printf("teemm-client: FILL of every registered buffer verified byte by byte\n");
  for (int i = 0; i < n; ++i) {
    close(r[i].fd);
    free(r[i].block);
  }
  printf("teemm-client: %d registered buffers released\n", n);
}

/* (d) memory the secure side asks the driver for. */
static uint64_t pattern_hash(uint64_t seed, uint64_t size) {
  uint64_t hash = FNV_OFFSET;
  for (uint64_t i = 0; i < size; ++i) {
    const unsigned char b = pattern(seed, i);
    hash = fnv1a(hash, &b, 1);
  }
  return hash;
}

static void rpc(uint32_t func, uint64_t size) {
  const char* name = func == CMD_RPC_ALLOC ? "RPC_ALLOC" : "RPC_CMD";
  char what[64];
  snprintf(what, sizeof(what), "%s %llu", name, (unsigned long long)size);
  struct tee_param p[1] = {value(ATTR_VALUE_INOUT, size, 0)};
  invoke(func, p, 1, what);
  check(p[0].a == pattern_hash(size, size) && p[0].b == size, "%s: answered 0x%016llx/%llu, expected 0x%016llx/%llu",
        what, (unsigned long long)p[0].a, (unsigned long long)p[0].b, (unsigned long long)pattern_hash(size, size),
        (unsigned long long)size);
  printf("teemm-client: %s: the secure side filled and read back normal-world memory it asked for\n", what);
}

static void rpc_with_output(uint64_t size) {
  struct registered out;
  register_buffer(&out, size, 0x20);
  memset(out.bytes, 0, size);
  struct tee_param p[2] = {value(ATTR_VALUE_INOUT, size, 0), memref(ATTR_MEMREF_OUTPUT, out.id, 0, size)};
  char what[64];
  snprintf(what, sizeof(what), "RPC_ALLOC %llu with an output memref", (unsigned long long)size);
  invoke(CMD_RPC_ALLOC, p, 2, what);
  check(p[0].a == pattern_hash(size, size), "%s: hash 0x%016llx", what, (unsigned long long)p[0].a);
  for (uint64_t i = 0; i < size; ++i)
    if (out.bytes[i] != pattern(size, i)) fail("%s: output byte %llu differs", what, (unsigned long long)i);
  ++g_checks;
  close(out.fd);
  free(out.block);
  printf("teemm-client: %s: output verified\n", what);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  open_device();
  open_session();
  allocated_memory(4096);
  allocated_memory(65536 + 100);
  registered_memory();
  rpc(CMD_RPC_ALLOC, 4096);
  rpc(CMD_RPC_ALLOC, 65536);
  rpc(CMD_RPC_ALLOC, 1u << 20);
  rpc_with_output(20000);
  rpc(CMD_RPC_CMD, 4096);
  rpc(CMD_RPC_CMD, 300000);
  close_session();
  close(g_tee);
  printf("teemm-client: PASS (%u checks)\n", g_checks);
  return 0;
}
