"""A Python worker of the chaos soak (``tests/chaos.rs``): the same write-ahead-journaled
transfers as the Rust workers, on the same segment, through the generated ``chaos_bank``
module and the ``shmgen`` runtime.

    python3 chaos_worker.py NAME SLOT SEED GIVE_UP_UNIX_NS

Every store below is one ctypes field assignment, done immediately and in program order, so a
SIGKILL between any two leaves a state that ``repair`` (here or in Rust) can roll forward or
back. Exit codes: 0 after ``stop``; 3 past the deadline; 4 on a lock timeout (a hang).
"""

import os
import random
import sys
import time

import shmgen
from chaos_bank import Chaos

ACCOUNTS = 16
WORKERS = 8


def repair(seg, b):
    """Restores the invariant after the holder died (the same rule as tests/chaos.rs)."""
    j = b.journal
    if j.active != 1:
        seg.nothing_to_repair.add(1)
        b.holder = 0
        return
    src, dst, slot = j.src, j.dst, j.slot
    assert src < ACCOUNTS and dst < ACCOUNTS and slot < WORKERS and src != dst, (src, dst, slot)
    if j.phase >= 2:
        b.balances[src] = j.old_from - j.amount
        b.balances[dst] = j.old_to + j.amount
        b.seq = j.old_seq + 1
        b.slot_commits[slot] = j.old_slot_commits + 1
        seg.rolled_forward.add(1)
    else:
        b.balances[src] = j.old_from
        b.balances[dst] = j.old_to
        b.seq = j.old_seq
        b.slot_commits[slot] = j.old_slot_commits
        seg.rolled_back.add(1)
    j.active = 0
    b.holder = 0


def transfer(b, slot, rng):
    src = rng.randrange(ACCOUNTS)
    dst = (src + 1 + rng.randrange(ACCOUNTS - 1)) % ACCOUNTS
    have = b.balances[src]
    amount = 1 + rng.randrange(min(have, 1000)) if have > 0 else 0
    j = b.journal
    # Write ahead: the whole record first, `active` last.
    j.phase = 1
    j.src = src
    j.dst = dst
    j.amount = amount
    j.old_from = have
    j.old_to = b.balances[dst]
    j.old_seq = b.seq
    j.slot = slot
    j.old_slot_commits = b.slot_commits[slot]
    j.active = 1
    b.balances[src] = have - amount
    j.phase = 2
    b.balances[dst] = b.balances[dst] + amount
    j.phase = 3
    b.seq = b.seq + 1
    b.slot_commits[slot] = b.slot_commits[slot] + 1
    j.phase = 4
    j.active = 0


def main():
    name, slot, seed, give_up_ns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    seg = Chaos.open(name, timeout=5.0)
    me = seg.slots[slot]
    me.holding.store(0)
    me.pid.store(os.getpid())
    rng = random.Random(seed)
    pid = os.getpid()
    while seg.stop.load() == 0:
        if time.time_ns() > give_up_ns:
            sys.exit(3)
        try:
            g = seg.bank.lock(timeout=5.0)
        except shmgen.OwnerDied as died:
            seg.owner_died.add(1)
            g = died.guard
            repair(seg, g.value)
        except shmgen.LockTimeout:
            seg.lock_timeouts.add(1)
            sys.exit(4)
        b = g.value
        me.holding.store(1)
        b.holder = pid
        transfer(b, slot, rng)
        b.holder = 0
        me.holding.store(0)
        g.release()
        me.transfers.add(1)


if __name__ == "__main__":
    main()
