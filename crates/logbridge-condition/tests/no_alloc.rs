//! Checking the common forms of condition against a log allocates nothing:
//! a global allocator counts this thread's allocations around `check`.
//!
//! This file is its own test binary so that the counting allocator affects
//! nothing else.

// A global allocator is `unsafe impl GlobalAlloc`; it only forwards to the
// system allocator and bumps a thread-local counter, and exists only in
// this test binary.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use logbridge_condition::Condition;
use logbridge_event::{Event, LogRecord, Path, Value};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn the_counter_sees_allocations() {
    let n = allocations_during(|| drop(std::hint::black_box(vec![1_u8; 16])));
    assert_eq!(n, 1);
}

#[test]
fn common_conditions_do_not_allocate() {
    let mut log = LogRecord::from_line(Bytes::from_static(b"GET /api/users/42 HTTP/1.1"), 0);
    let set = |log: &mut LogRecord, path: &str, value: Value| {
        log.insert(&Path::parse(path).unwrap(), value).unwrap();
    };
    set(&mut log, ".status", Value::Integer(503));
    set(&mut log, ".level", "error".into());
    set(&mut log, ".duration_ms", Value::Float(12.5));
    set(&mut log, ".http.method", "GET".into());
    set(
        &mut log,
        ".user_agent",
        "Mozilla/5.0 (compatible; Googlebot/2.1)".into(),
    );
    let event = Event::Log(log);
    for source in [
        r#".level != "debug" && .status >= 500"#,
        r#".level == "info" || .duration_ms > 10 || .missing == null"#,
        r#"!(.http.method == "POST") && .status != "503""#,
        ".status == .status",
        "exists(.http.method) && !exists(.nope)",
        r"match(.message, r'^GET /api/users/\d+')",
        r#"contains(.user_agent, "bot")"#,
        r#"contains(.user_agent, "BOT", case_sensitive: false)"#,
        r#"starts_with(.message, "GET ") && ends_with(.message, "1.1")"#,
        r#"starts_with(.message, "get ", case_sensitive: false)"#,
        "(.status >= 500) == true",
    ] {
        let condition = Condition::compile(source).unwrap();
        // The first checks warm up the regex engine's per-thread cache.
        let first = condition.check(&event);
        assert_eq!(condition.check(&event), first);
        let n = allocations_during(|| {
            for _ in 0..100 {
                assert_eq!(condition.check(&event), first);
            }
        });
        assert_eq!(n, 0, "{source} allocated {n} times in 100 checks");
    }
}
