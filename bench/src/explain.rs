//! Why a goal can be missed and what would close it: hand-written analysis, attached in
//! `BENCHMARKS.md` to the rows of a run that missed their goal (the figures themselves always
//! come from the run). Written from the measurements and profiles of November 2026 on the
//! 2-core development machine; see docs/BENCHMARKS.md.

/// The explanation for a missed comparison, by the keys of its two measurements.
pub fn why(ours: &str, base: &str) -> Option<&'static str> {
    Some(match (ours, base) {
        ("c.py_atomic", "c.value") => {
            "The 4x depends on the two workers running at the same time: then `multiprocessing`'s lock is \
             contended (futex sleeps and wake-ups on every hand-over) while the atomic never waits, and \
             runs on a quiet machine measured 5.1x to 6.0x. When the machine is busy (1-min load above the \
             number of cores), the two workers mostly take turns, the lock is rarely contended, and the \
             comparison becomes Python call overhead: `seg.atomic.add(1)` is one ctypes call into \
             libatomic (about 0.5 µs, almost all of it the ctypes call) against 0.8 to 1.7 µs for `with \
             v.get_lock(): v.value += 1` uncontended. To close it: a C fast path for `add` (and the other \
             atomic operations), keeping ctypes as the fallback; then the uncontended case would be \
             bound by the interpreter loop, not the FFI."
        }
        ("c.py_mutex", "c.value") => {
            "Both sides pay Python-level costs per increment, and under 2-process contention both pay for \
             handing the lock between processes. shmgen's lock and unlock are two ctypes foreign calls \
             (`pthread_mutex_trylock`, `pthread_mutex_unlock`), while `multiprocessing`'s lock is a C type \
             (`SemLock`) whose `acquire`/`release` cost no FFI transition; `multiprocessing.Value` pays instead \
             for its synchronized `.value` property, which takes its RLock again on every read and write. \
             Measured in one process, uncontended: lock+unlock ~0.6 µs (multiprocessing) vs ~0.9 µs (shmgen), \
             `value += 1` ~0.4 µs vs ~0.1 µs; so shmgen's whole increment is ~1.4x faster, and contention \
             narrows that; on a busy machine, where the workers take turns, the FFI cost of \
             the lock dominates and shmgen can fall below `multiprocessing`. To close it: lock/unlock (and the `with` protocol) in a small C extension or cffi \
             module instead of ctypes, keeping ctypes as the fallback; or, where the value is a number, the \
             atomic field, which is ~5x faster than `multiprocessing.Value`."
        }
        ("a.mutex2", "a.raw_mutex2") | ("b.atomic2", "b.raw_atomic2") => {
            "The field and the raw baseline run the same code on the same kind of memory (a glibc robust \
             pthread mutex, or one `lock xadd`, in a MAP_SHARED /dev/shm mapping): the field adds nothing but \
             a pointer. What varies is the scheduler: when both processes are on CPUs at once, the counter's \
             cache line moves between cores on every increment; when they take turns, each runs alone and \
             fast. On this shared 2-core machine the runs are bimodal (about 9 ns vs 25 ns per atomic \
             increment, 36 ns vs 110 ns per locked one), so a short run can land on different modes for the \
             two sides. More repetitions or CPU pinning on an idle machine close it; the uncontended rows \
             are the like-for-like cost."
        }
        ("a.mutex", "a.raw_mutex") | ("b.atomic", "b.raw_atomic") => {
            "The field runs the same code as the raw baseline (see the contended rows); an uncontended miss \
             is measurement noise from a busy machine."
        }
        ("d.ring.4096", "d.pipe.4096") => {
            "At 4 KiB every copy-in/copy-out transport is bound by copying: `push` copies the item into its \
             slot and `pop` copies it out, as a pipe's `write` and `read` do. At the memcpy bandwidth measured \
             in group (e) (about 8 GiB/s here) one 4 KiB copy takes about 0.5 µs, so with each process doing \
             one copy per item no such transport passes about 2 M items/s, and with the pipe at 0.3-0.5 M/s \
             the ring's ceiling is about 4-5x the pipe: the goal cannot be met by copying items. Slot \
             alignment is not the cause: a scratch test with 4,088-byte items (4,096-byte slots) ran at the \
             same 1.5 M/s as 4,096-byte items (4,104-byte slots). The pipe is also bimodal here: when the \
             scheduler puts both processes on one CPU, the item is still in that CPU's cache when it is read \
             (pipe runs of up to 2.8 M/s were seen). To close it: a zero-copy ring API (fill the slot in place, \
             `push_with(|slot| ..)`, and read it in place, `pop_with(|item| ..)`), as iceoryx2's loans do."
        }
        ("d.ring.4096", "d.iox.4096") => {
            "Near parity at 4 KiB (1.3x to 1.8x in other runs the same day): both writers copy 4 KiB into \
             shared memory, but iceoryx2's subscriber reads the sample in place (here: its first 8 bytes), \
             while shmgen's `pop` copies all 4 KiB out, so shmgen does twice the copying. To close it: the \
             zero-copy ring API above (read the item in place)."
        }
        ("d.ring.64", "d.pipe.64") => {
            "Cache-line traffic from the slot size: a 64-byte item plus its 8-byte sequence number makes a \
             72-byte slot, so every slot spans two cache lines and neighbouring slots share one; each push \
             and pop moves two lines between the cores, and the producer's and consumer's slots falsely \
             share lines. Measured with a scratch ring on the same machine and day: 56-byte items (64-byte \
             slots, one line each) ran at 10.7 M/s, 64-byte items (72-byte slots) at 6.0 M/s, 1.8x slower; \
             at the pipe's ~1.5 M/s, 64-byte slots would put the ring near 7x the pipe. To close it: pad the \
             slots of items of 56 bytes and more to a multiple of 64 bytes (a layout change: FORMAT.md, \
             `abi::ring_layout` and every runtime), or, for bulk traffic, the batch calls \
             `push_slice`/`pop_into`. The 64-byte ring's runs also vary widely within one run (see min \
             and max under \"Every measurement\"; 1.0 to 7.2 M/s in one run), more than the u64 ring's: \
             worth a profile by whoever changes the slot layout."
        }
        ("d.ring.8", "d.pipe.8") => {
            "The u64 ring met this goal in every development run (about 10x a pipe); a miss means the two \
             processes were rarely on CPUs at the same time, when every push or pop can end in a futex sleep."
        }
        ("f.poll.p50", "f.iox-spin.p50") | ("f.event.p50", "f.iox-event.p50") => {
            "shmgen was faster in every development run; a miss would come from scheduling on a busy machine \
             (one-way latency is dominated by whether the partner is on a CPU)."
        }
        ("e.rust", "e.memcpy") | ("e.numpy", "e.memcpy") => {
            "Publishing is one copy into the segment, so it runs at memcpy speed when the destination pages \
             are mapped; a miss points at page faults (a writer's first touch of the pages) or a busy machine."
        }
        _ => return None,
    })
}
