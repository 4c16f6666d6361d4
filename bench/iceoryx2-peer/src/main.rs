//! The iceoryx2 side of shmgen's benchmark suite: publish-subscribe throughput and ping-pong
//! latency between two processes, with the iceoryx2 crate. `shmgen-bench --iceoryx2 PATH` runs
//! this binary once per repetition (interleaved with its own runs) and parses the one line it
//! prints. A crate of its own, outside the shmgen workspace, because iceoryx2 is large.
//!
//! ```text
//! shmgen-iceoryx2-peer throughput SIZE N   # SIZE: 8 (u64), 64 or 4096 bytes
//!   -> RESULT throughput size=SIZE n=N secs=S items_per_sec=R
//! shmgen-iceoryx2-peer latency spin|event N
//!   -> RESULT latency mode=MODE n=N p50_ns=A p99_ns=B   (one way: round trip / 2)
//! ```
//!
//! Both run a parent process (subscriber / pinger) and re-run this binary as the child
//! (publisher / echo): `__child publisher SIZE N SERVICE`, `__child echo MODE N SERVICE`. The
//! child says `ready` on stdout once its ports exist, then waits for one byte on stdin; the
//! parent's clock starts when it writes that byte, as shmgen-bench's own runs start when the
//! parent releases its waiting child.
//!
//! Settings, chosen like shmgen's ring: a subscriber buffer of 1,024 samples (the ring's
//! capacity), no overflow (a full buffer makes the publisher retry until delivered, as a full
//! ring makes a producer wait), history 0. The polling sides spin and yield to the scheduler
//! after 64 empty polls (iceoryx2's publish-subscribe has no blocking receive; `event` mode
//! uses its event service, whose listener blocks: `timed_wait` with a 1 s limit, so that a
//! dead partner cannot hang a run).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use iceoryx2::port::update_connections::UpdateConnections;
use iceoryx2::prelude::*;

/// Samples a subscriber buffers: the capacity of shmgen's rings in the same benchmark.
const BUFFER: usize = 1024;

type Res<T> = Result<T, Box<dyn core::error::Error>>;

fn main() -> Res<()> {
    set_log_level(LogLevel::Error);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["throughput", size, n] => throughput(size.parse()?, n.parse()?),
        ["latency", mode, n] => latency(mode, n.parse()?),
        ["__child", "publisher", size, n, service] => match *size {
            "8" => publisher::<u64>(n.parse()?, service, |i| i),
            "64" => publisher::<[u8; 64]>(n.parse()?, service, item),
            "4096" => publisher::<[u8; 4096]>(n.parse()?, service, item),
            s => Err(format!("unsupported size {s}").into()),
        },
        ["__child", "echo", mode, n, service] => echo(mode, n.parse()?, service),
        _ => {
            Err("usage: shmgen-iceoryx2-peer throughput 8|64|4096 N | latency spin|event N".into())
        }
    }
}

/// An item of `S` bytes whose first 8 hold `i`.
fn item<const S: usize>(i: u64) -> [u8; S] {
    let mut b = [0u8; S];
    b[..8].copy_from_slice(&i.to_ne_bytes());
    b
}

/// The number in an item's first 8 bytes.
trait Numbered {
    fn number(&self) -> u64;
}

impl Numbered for u64 {
    fn number(&self) -> u64 {
        *self
    }
}

impl<const S: usize> Numbered for [u8; S] {
    fn number(&self) -> u64 {
        u64::from_ne_bytes(self[..8].try_into().unwrap())
    }
}

fn service_name(kind: &str) -> String {
    format!("shmgen-bench/{}/{kind}", std::process::id())
}

/// Spins, then yields, while `poll` finds nothing.
#[inline(always)]
fn backoff(empty: &mut u32) {
    *empty += 1;
    if *empty < 64 {
        core::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// Polls `f` until it is true (10 s at most).
fn wait_for(what: &str, f: impl Fn() -> bool) -> Res<()> {
    let t = Instant::now();
    while !f() {
        if t.elapsed() > Duration::from_secs(10) {
            return Err(format!("{what} did not appear").into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// Starts `__child ARGS...`, waits for its `ready`; returns it with its stdin (the go byte).
fn spawn_child(args: &[&str]) -> Res<(std::process::Child, std::process::ChildStdin)> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("__child")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let stdin = child.stdin.take().ok_or("no stdin")?;
    let mut out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut line = String::new();
    out.read_line(&mut line)?;
    if line.trim() != "ready" {
        return Err(format!("child said {line:?}, not ready").into());
    }
    Ok((child, stdin))
}

/// The child's side of the start: `ready`, then one byte on stdin.
fn ready_and_wait() -> Res<()> {
    let mut so = std::io::stdout().lock();
    writeln!(so, "ready")?;
    so.flush()?;
    let mut b = [0u8; 1];
    std::io::stdin().read_exact(&mut b)?;
    Ok(())
}

fn throughput(size: usize, n: u64) -> Res<()> {
    match size {
        8 => throughput_of::<u64>(size, n),
        64 => throughput_of::<[u8; 64]>(size, n),
        4096 => throughput_of::<[u8; 4096]>(size, n),
        s => Err(format!("unsupported size {s}").into()),
    }
}

fn throughput_of<T>(size: usize, n: u64) -> Res<()>
where
    T: core::fmt::Debug + ZeroCopySend + Numbered + 'static,
{
    let node = NodeBuilder::new().create::<ipc::Service>()?;
    let name = service_name(&format!("tp{size}"));
    let service = node
        .service_builder(&name.as_str().try_into()?)
        .publish_subscribe::<T>()
        .subscriber_max_buffer_size(BUFFER)
        .history_size(0)
        .enable_safe_overflow(false)
        .max_publishers(1)
        .max_subscribers(1)
        .create()?;
    let subscriber = service.subscriber_builder().buffer_size(BUFFER).create()?;
    let (mut child, mut go) =
        spawn_child(&["publisher", &size.to_string(), &n.to_string(), &name])?;
    // Both ports registered before the clock starts (the publisher waited for the subscriber).
    wait_for("the publisher", || {
        service.dynamic_config().number_of_publishers() == 1
    })?;
    let t0 = Instant::now();
    go.write_all(b"g")?;
    go.flush()?;
    let (mut got, mut sum, mut empty) = (0u64, 0u64, 0u32);
    let (mut last_got, mut stalled) = (0u64, Instant::now());
    while got < n {
        match subscriber.receive()? {
            Some(s) => {
                sum = sum.wrapping_add(s.payload().number());
                got += 1;
                empty = 0;
            }
            None => {
                backoff(&mut empty);
                if empty % 4096 == 0 {
                    // A publisher that failed, or items that got lost, must not hang the run.
                    if let Some(st) = child.try_wait()? {
                        return Err(
                            format!("publisher exited ({st}) after {got} of {n} items").into()
                        );
                    }
                    if got == last_got {
                        if stalled.elapsed() > Duration::from_secs(10) {
                            let _ = child.kill();
                            return Err(format!("no item for 10 s after {got} of {n} items").into());
                        }
                    } else {
                        last_got = got;
                        stalled = Instant::now();
                    }
                }
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    drop(go); // the publisher may go now
    if sum != n.wrapping_mul(n.wrapping_sub(1)) / 2 {
        return Err(format!("wrong sum {sum} for {n} items").into());
    }
    if !child.wait()?.success() {
        return Err("publisher failed".into());
    }
    println!(
        "RESULT throughput size={size} n={n} secs={secs:.9} items_per_sec={:.1}",
        n as f64 / secs
    );
    Ok(())
}

fn publisher<T>(n: u64, service: &str, make: fn(u64) -> T) -> Res<()>
where
    T: core::fmt::Debug + ZeroCopySend + 'static,
{
    let node = NodeBuilder::new().create::<ipc::Service>()?;
    let service = node
        .service_builder(&service.try_into()?)
        .publish_subscribe::<T>()
        .open()?;
    let publisher = service
        .publisher_builder()
        .backpressure_strategy(BackpressureStrategy::RetryUntilDelivered)
        .create()?;
    wait_for("the subscriber", || {
        service.dynamic_config().number_of_subscribers() == 1
    })?;
    publisher.update_connections()?;
    ready_and_wait()?;
    let mut undelivered = 0u64;
    for i in 0..n {
        // `send` returns how many subscribers got the sample; 0 means it went nowhere (seen
        // now and then: once 1 in 1,000,000, once ~7,000 of them in one run): send it again.
        loop {
            let sample = publisher.loan_uninit()?;
            let sample = sample.write_payload(make(i));
            if sample.send()? > 0 {
                break;
            }
            undelivered += 1;
            std::thread::yield_now();
        }
    }
    if undelivered > 0 {
        eprintln!("iceoryx2 peer: {undelivered} sends reached no subscriber and were repeated");
    }
    wait_for_eof()
}

/// Keeps the child's ports alive until the parent has everything (a publisher that goes away
/// takes the samples still queued for the subscriber with it): waits for stdin to close.
fn wait_for_eof() -> Res<()> {
    let mut rest = Vec::new();
    std::io::stdin().read_to_end(&mut rest)?;
    Ok(())
}

fn latency(mode: &str, n: u64) -> Res<()> {
    let node = NodeBuilder::new().create::<ipc::Service>()?;
    let ping_name = service_name(&format!("ping-{mode}"));
    let pong_name = format!("{ping_name}-pong");
    let mut rtt = Vec::with_capacity(n as usize);
    match mode {
        "spin" => {
            let ping = node
                .service_builder(&ping_name.as_str().try_into()?)
                .publish_subscribe::<u64>()
                .max_publishers(1)
                .max_subscribers(1)
                .create()?;
            let pong = node
                .service_builder(&pong_name.as_str().try_into()?)
                .publish_subscribe::<u64>()
                .max_publishers(1)
                .max_subscribers(1)
                .create()?;
            let publisher = ping.publisher_builder().create()?;
            let subscriber = pong.subscriber_builder().create()?;
            let (mut child, mut go) = spawn_child(&["echo", mode, &n.to_string(), &ping_name])?;
            publisher.update_connections()?;
            go.write_all(b"g")?;
            go.flush()?;
            for i in 0..n {
                let t = Instant::now();
                publisher.send_copy(i)?;
                let mut empty = 0;
                loop {
                    if let Some(s) = subscriber.receive()? {
                        assert_eq!(*s, i, "pong out of order");
                        break;
                    }
                    backoff(&mut empty);
                    if empty % 4096 == 0 {
                        if let Some(st) = child.try_wait()? {
                            return Err(format!("echo exited ({st}) at round trip {i}").into());
                        }
                    }
                }
                rtt.push(t.elapsed().as_nanos() as u64);
            }
            if !child.wait()?.success() {
                return Err("echo failed".into());
            }
        }
        "event" => {
            let ping = node
                .service_builder(&ping_name.as_str().try_into()?)
                .event()
                .create()?;
            let pong = node
                .service_builder(&pong_name.as_str().try_into()?)
                .event()
                .create()?;
            let notifier = ping.notifier_builder().create()?;
            let listener = pong.listener_builder().create()?;
            let (mut child, mut go) = spawn_child(&["echo", mode, &n.to_string(), &ping_name])?;
            go.write_all(b"g")?;
            go.flush()?;
            for i in 0..n {
                let t = Instant::now();
                notifier.notify()?;
                let mut woke = 0;
                while woke == 0 {
                    woke = listener.timed_wait(|_| {}, Duration::from_secs(1))?;
                    if woke == 0 {
                        if let Some(st) = child.try_wait()? {
                            return Err(format!("echo exited ({st}) at round trip {i}").into());
                        }
                    }
                }
                rtt.push(t.elapsed().as_nanos() as u64);
            }
            if !child.wait()?.success() {
                return Err("echo failed".into());
            }
        }
        m => return Err(format!("unknown latency mode {m}").into()),
    }
    rtt.sort_unstable();
    let pct = |p: f64| rtt[((rtt.len() - 1) as f64 * p).round() as usize] as f64 / 2.0;
    println!(
        "RESULT latency mode={mode} n={n} p50_ns={:.1} p99_ns={:.1}",
        pct(0.50),
        pct(0.99)
    );
    Ok(())
}

fn echo(mode: &str, n: u64, ping_name: &str) -> Res<()> {
    let node = NodeBuilder::new().create::<ipc::Service>()?;
    let pong_name = format!("{ping_name}-pong");
    match mode {
        "spin" => {
            let ping = node
                .service_builder(&ping_name.try_into()?)
                .publish_subscribe::<u64>()
                .open()?;
            let pong = node
                .service_builder(&pong_name.as_str().try_into()?)
                .publish_subscribe::<u64>()
                .open()?;
            let subscriber = ping.subscriber_builder().create()?;
            let publisher = pong.publisher_builder().create()?;
            publisher.update_connections()?;
            ready_and_wait()?;
            let t0 = Instant::now();
            for _ in 0..n {
                let mut empty = 0;
                let v = loop {
                    if let Some(s) = subscriber.receive()? {
                        break *s;
                    }
                    backoff(&mut empty);
                    if empty % 4096 == 0 && t0.elapsed() > Duration::from_secs(300) {
                        return Err("echo: no ping for too long".into());
                    }
                };
                publisher.send_copy(v)?;
            }
        }
        "event" => {
            let ping = node
                .service_builder(&ping_name.try_into()?)
                .event()
                .open()?;
            let pong = node
                .service_builder(&pong_name.as_str().try_into()?)
                .event()
                .open()?;
            let listener = ping.listener_builder().create()?;
            let notifier = pong.notifier_builder().create()?;
            ready_and_wait()?;
            let t0 = Instant::now();
            for _ in 0..n {
                let mut woke = 0;
                while woke == 0 {
                    woke = listener.timed_wait(|_| {}, Duration::from_secs(1))?;
                    if woke == 0 && t0.elapsed() > Duration::from_secs(300) {
                        return Err("echo: no ping for too long".into());
                    }
                }
                notifier.notify()?;
            }
        }
        m => return Err(format!("unknown latency mode {m}").into()),
    }
    Ok(())
}
