// Waiting for a quiet process before a timed call.
//
// Thread pools spin for a while after a job before they park (ours to catch back-to-back
// kernel calls, OpenBLAS's unless OPENBLAS_THREAD_TIMEOUT says otherwise). When variants are
// timed back to back on a machine with few cores, a pool still spinning from the previous
// variant takes a core from the next one: the next variant is charged for its predecessor, and
// with a fixed rotation the same pair always meet, a bias that does not average out. So the
// lane waits, untimed, until no other thread of the process is running before each timed call.
#pragma once

namespace infeng::bench {

// Polls /proc/self/task until every thread but the caller is asleep, or timeout_ms passes.
// Returns false on timeout (a thread that never sleeps; the call is then timed anyway).
bool wait_quiescent(double timeout_ms);

}  // namespace infeng::bench
