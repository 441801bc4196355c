//! Process-wide memory settings: what the kernel counts as this process'
//! resident memory, kept to what the pipeline uses.
//!
//! Two things inflate RSS without doing work: transparent huge pages under
//! the allocator, and the executable's startup-only code. This module turns
//! the first off and lets the second go once the pipeline runs. It must
//! not touch any mapping that was ever written (relocated data, the heap).

/// Asks the kernel for no transparent huge pages in this process.
///
/// mimalloc marks its arenas for huge pages, so every 2 MiB region it
/// touches becomes 2 MiB resident however little of it is in use: an idle
/// pipeline held 8.5 MiB of heap this way against 1 MiB without, and a
/// busy one peaked 20 MiB higher, for no measurable gain in events/s
/// (`scripts/bench`). Best effort: a kernel without the switch keeps its
/// own policy.
pub fn keep_heap_in_small_pages() {
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_thp_disable(true);
}

/// Drops the executable's read-only pages (code, constants) from this
/// process' resident set, once the pipeline is built and running.
///
/// Parsing the config, compiling VRL programs and building components run
/// code and read constants that are never needed again; those pages stay
/// resident (with the kernel's fault-around, in 64 KiB runs) until
/// released. A read-only page never written is a clean view of the
/// executable file, so releasing it loses nothing: the next access maps it
/// again from the page cache, and the steady state keeps only what the
/// pipeline uses. A mapping with any page the process wrote (relocated
/// data, whose copy differs from the file) is never released.
// The one `unsafe` call in the binary: madvise on memory no Rust value
// lives in (see the safety note).
#[allow(unsafe_code)]
pub fn release_startup_pages() {
    #[cfg(target_os = "linux")]
    {
        let mut released = 0usize;
        for (start, len) in clean_read_only_mappings() {
            let Some(ptr) = std::ptr::NonNull::new(start as *mut std::ffi::c_void) else {
                continue;
            };
            // Safety: the range is a read-only mapping of the executable
            // file with no privately written page (checked in smaps).
            // MADV_DONTNEED drops its page table entries only; later
            // accesses fault the same bytes back in from the file.
            let advised = unsafe {
                nix::sys::mman::madvise(ptr, len, nix::sys::mman::MmapAdvise::MADV_DONTNEED)
            };
            if advised.is_ok() {
                released += len;
            }
        }
        tracing::debug!(message = "Released startup pages.", mapped_bytes = released);
    }
}

/// The executable's read-only mappings that no write has copied a page of,
/// as (start, length), from `/proc/self/smaps`.
#[cfg(target_os = "linux")]
fn clean_read_only_mappings() -> Vec<(usize, usize)> {
    let (Ok(exe), Ok(smaps)) = (
        std::fs::read_link("/proc/self/exe"),
        std::fs::read_to_string("/proc/self/smaps"),
    ) else {
        return Vec::new();
    };
    clean_read_only(&smaps, &exe.to_string_lossy())
}

/// Picks from smaps text the read-only mappings of `exe` whose
/// `Anonymous:` count is zero.
fn clean_read_only(smaps: &str, exe: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        if let Some(rest) = line.strip_prefix("Anonymous:") {
            let anonymous_kib = rest.trim().trim_end_matches("kB").trim();
            if let Some(range) = current.take()
                && anonymous_kib == "0"
            {
                found.push(range);
            }
        } else if let Some(range) = mapping_header(line) {
            current = range.filter(|_| read_only_mapping_of(line, exe));
        }
    }
    found
}

/// The range of a mapping header line (`start-end perms offset dev inode
/// path`); `None` for the `Key: value` lines under it.
fn mapping_header(line: &str) -> Option<Option<(usize, usize)>> {
    let range = line.split_whitespace().next()?;
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    Some((end > start).then_some((start, end - start)))
}

fn read_only_mapping_of(line: &str, exe: &str) -> bool {
    let mut fields = line.split_whitespace().skip(1);
    let perms = fields.next().unwrap_or("");
    let path = fields.nth(3).unwrap_or("");
    perms.starts_with('r') && !perms.contains('w') && perms.ends_with('p') && path == exe
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXE: &str = "/usr/bin/logbridge";

    fn mapping(range: &str, perms: &str, path: &str, anonymous_kib: u32) -> String {
        format!(
            "{range} {perms} 00846000 fd:01 123 {path}\nSize: 100 kB\nRss: 40 kB\nAnonymous: {anonymous_kib} kB\nVmFlags: rd mr\n"
        )
    }

    #[test]
    fn only_clean_read_only_mappings_of_the_executable_are_picked() {
        let smaps = [
            mapping("00200000-00a46000", "r--p", EXE, 0),
            mapping("00a46000-02884000", "r-xp", EXE, 0),
            // Relocated data: written once, must keep its copy.
            mapping("02884000-02b63000", "r--p", EXE, 12),
            mapping("02b63000-02b70000", "rw-p", EXE, 0),
            mapping("7f00000000-7f00100000", "r-xp", "/usr/lib/libc.so.6", 0),
            mapping("7f00200000-7f00300000", "rw-p", "", 0),
        ]
        .concat();
        assert_eq!(
            clean_read_only(&smaps, EXE),
            vec![
                (0x200000, 0xa46000 - 0x200000),
                (0xa46000, 0x2884000 - 0xa46000)
            ]
        );
    }

    #[test]
    fn releasing_keeps_the_process_running() {
        release_startup_pages();
        // Code and constants are read again after the release.
        let smaps = mapping("1000-2000", "r-xp", "/x", 0);
        assert_eq!(clean_read_only(&smaps, "/x"), vec![(0x1000, 0x1000)]);
    }
}
