//! The process-shared synchronisation types a field may be: robust mutexes, seqlocks,
//! semaphores and events. Their bytes are specified in `docs/FORMAT.md` and `crate::abi`.

pub mod mutex;
pub mod semaphore;
pub mod seqlock;
