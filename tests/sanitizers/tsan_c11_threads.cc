// Linked into every program of a ThreadSanitizer build (KPIPE_SANITIZE=thread) only.
//
// librdkafka uses C11 threads (thrd_create, mtx_*, cnd_*, call_once). glibc (2.34+) implements
// them by calling its internal pthread functions directly, not the exported symbols, so TSan's
// interceptors never see them:
//   - threads start without TSan's thread state and crash in its allocator on their first malloc
//     (SEGV in SizeClassAllocator64LocalCache::Allocate, "this=0x8"; gcc 12 and clang 14 alike):
//     the "TSan binaries crash at start-up" seen on this machine;
//   - locks and condition variables are invisible, so every access librdkafka guards with them
//     is reported as a data race.
// These definitions, exported from the executable, interpose glibc's for librdkafka and route
// each C11 call through the intercepted pthread one. glibc's C11 types are layout-compatible with
// the pthread ones (mtx_t/pthread_mutex_t, cnd_t/pthread_cond_t, once_flag/pthread_once_t).
#include <pthread.h>
#include <threads.h>

#include <cerrno>
#include <cstdint>
#include <ctime>
#include <new>

namespace {

struct Start {
  thrd_start_t func;
  void* arg;
};

void* trampoline(void* p) {
  Start start = *static_cast<Start*>(p);
  delete static_cast<Start*>(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.func(start.arg)));
}

int c11_result(int rc) {
  if (rc == 0) return thrd_success;
  if (rc == ETIMEDOUT) return thrd_timedout;
  if (rc == EBUSY) return thrd_busy;
  return rc == ENOMEM || rc == EAGAIN ? thrd_nomem : thrd_error;
}

pthread_mutex_t* native(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* native(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }

static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t) && sizeof(cnd_t) == sizeof(pthread_cond_t) &&
              sizeof(once_flag) == sizeof(pthread_once_t));

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  auto* start = new (std::nothrow) Start{func, arg};
  if (start == nullptr) return thrd_nomem;
  pthread_t id;
  int rc = pthread_create(&id, nullptr, trampoline, start);
  if (rc != 0) {
    delete start;
    return c11_result(rc);
  }
  *thr = id;
  return thrd_success;
}

__attribute__((visibility("default"))) int thrd_join(thrd_t thr, int* res) {
  void* value = nullptr;
  int rc = pthread_join(thr, &value);
  if (rc == 0 && res != nullptr) *res = static_cast<int>(reinterpret_cast<intptr_t>(value));
  return c11_result(rc);
}

__attribute__((visibility("default"))) int thrd_detach(thrd_t thr) { return c11_result(pthread_detach(thr)); }

#define KPIPE_EXPORT __attribute__((visibility("default")))

KPIPE_EXPORT int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  int rc = pthread_mutex_init(native(m), &attr);
  pthread_mutexattr_destroy(&attr);
  return c11_result(rc);
}
KPIPE_EXPORT int mtx_lock(mtx_t* m) { return c11_result(pthread_mutex_lock(native(m))); }
KPIPE_EXPORT int mtx_trylock(mtx_t* m) { return c11_result(pthread_mutex_trylock(native(m))); }
KPIPE_EXPORT int mtx_timedlock(mtx_t* m, const struct timespec* until) {
  return c11_result(pthread_mutex_timedlock(native(m), until));
}
KPIPE_EXPORT int mtx_unlock(mtx_t* m) { return c11_result(pthread_mutex_unlock(native(m))); }
KPIPE_EXPORT void mtx_destroy(mtx_t* m) { pthread_mutex_destroy(native(m)); }

KPIPE_EXPORT int cnd_init(cnd_t* c) { return c11_result(pthread_cond_init(native(c), nullptr)); }
KPIPE_EXPORT int cnd_signal(cnd_t* c) { return c11_result(pthread_cond_signal(native(c))); }
KPIPE_EXPORT int cnd_broadcast(cnd_t* c) { return c11_result(pthread_cond_broadcast(native(c))); }
KPIPE_EXPORT int cnd_wait(cnd_t* c, mtx_t* m) { return c11_result(pthread_cond_wait(native(c), native(m))); }
KPIPE_EXPORT int cnd_timedwait(cnd_t* c, mtx_t* m, const struct timespec* until) {
  return c11_result(pthread_cond_timedwait(native(c), native(m), until));
}
KPIPE_EXPORT void cnd_destroy(cnd_t* c) { pthread_cond_destroy(native(c)); }

KPIPE_EXPORT void call_once(once_flag* flag, void (*func)(void)) {
  pthread_once(reinterpret_cast<pthread_once_t*>(flag), func);
}

}  // extern "C"
