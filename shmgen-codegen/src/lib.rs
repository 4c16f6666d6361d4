//! shmgen schema compiler.
