// The fixed workload of the CI perf check: N messages through the real c2s routing
// path, with callgrind collection switched on only around the loop (set-up, login and
// PBKDF2 are excluded). Run by perf/check under `valgrind --tool=callgrind
// --collect-atstart=no`; prints nothing else of interest.
#include <valgrind/callgrind.h>

#include <cstdio>
#include <cstdlib>

#include "perf/route_fixture.h"

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  xmesh::perf::RouteFixture f;
  for (int i = 0; i < 50; ++i) f.sendOne();  // warm caches and allocator pools
  CALLGRIND_START_INSTRUMENTATION;
  CALLGRIND_TOGGLE_COLLECT;
  for (int i = 0; i < n; ++i) f.sendOne();
  CALLGRIND_TOGGLE_COLLECT;
  CALLGRIND_STOP_INSTRUMENTATION;
  std::printf("routed %d messages, %zu bytes delivered\n", n, f.deliveredBytes());
  return f.deliveredBytes() > 0 ? 0 : 1;
}
