//! espeak-ng's phonemiser in process: the shared library (Debian `libespeak-ng1`, installed with
//! the `espeak-ng` program) is loaded at run time, so building needs no headers and a machine
//! without it still works through the program. A clause takes well under a millisecond this way
//! instead of about 11 ms to start the program, which is time a caller waits before the first
//! words of every answer.
//!
//! The library is process-wide and not thread-safe: one lock serialises every call.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::{Mutex, OnceLock};

/// `espeak_Initialize` output mode: synchronous, no audio device.
const AUDIO_OUTPUT_SYNCHRONOUS: c_int = 2;
/// `espeak_Initialize` option: return an error instead of exiting the process when the data
/// files are missing.
const INITIALIZE_DONT_EXIT: c_int = 0x8000;
/// `espeak_TextToPhonemes` modes: UTF-8 text in, IPA out.
const CHARS_UTF8: c_int = 1;
const PHONEMES_IPA: c_int = 0x02;

type TextToPhonemes = unsafe extern "C" fn(*mut *const c_void, c_int, c_int) -> *const c_char;
type SetVoiceByName = unsafe extern "C" fn(*const c_char) -> c_int;

struct Library {
    // Kept loaded for as long as the function pointers below are used (the whole process).
    _lib: libloading::Library,
    text_to_phonemes: TextToPhonemes,
    set_voice: SetVoiceByName,
    voice: Option<String>,
}

static LIBRARY: OnceLock<Option<Mutex<Library>>> = OnceLock::new();

fn load() -> Option<Mutex<Library>> {
    // SAFETY: libespeak-ng's initialisation has no preconditions beyond being called before the
    // other functions; the symbols' signatures are those of speak_lib.h (espeak-ng 1.49 to 1.52).
    unsafe {
        let lib = libloading::Library::new("libespeak-ng.so.1").ok()?;
        let initialize: libloading::Symbol<
            unsafe extern "C" fn(c_int, c_int, *const c_char, c_int) -> c_int,
        > = lib.get(b"espeak_Initialize\0").ok()?;
        let text_to_phonemes: TextToPhonemes = *lib.get::<TextToPhonemes>(b"espeak_TextToPhonemes\0").ok()?;
        let set_voice: SetVoiceByName = *lib.get::<SetVoiceByName>(b"espeak_SetVoiceByName\0").ok()?;
        if initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, std::ptr::null(), INITIALIZE_DONT_EXIT) <= 0 {
            return None;
        }
        Some(Mutex::new(Library { _lib: lib, text_to_phonemes, set_voice, voice: None }))
    }
}

/// Whether the library could be loaded (else phonemes come from the `espeak-ng` program).
pub fn in_process() -> bool {
    LIBRARY.get_or_init(load).is_some()
}

/// IPA phonemes of one clause (no clause punctuation inside) in `voice`, or `None` when the
/// library is not there, the voice is unknown, or the text cannot be passed (a NUL in it).
pub fn clause(text: &str, voice: &str) -> Option<String> {
    let lib = LIBRARY.get_or_init(load).as_ref()?;
    let mut lib = lib.lock().unwrap_or_else(|e| e.into_inner());
    let text = CString::new(text).ok()?;
    if lib.voice.as_deref() != Some(voice) {
        let name = CString::new(voice).ok()?;
        // SAFETY: a NUL-terminated name; the library is initialised and the lock is held.
        if unsafe { (lib.set_voice)(name.as_ptr()) } != 0 {
            return None;
        }
        lib.voice = Some(voice.to_string());
    }
    let mut parts: Vec<String> = Vec::new();
    let mut at = text.as_ptr() as *const c_void;
    // Each call phonemises up to the next clause break inside the text and moves `at` on; it
    // becomes null at the end. The bound only guards against a library that stops moving.
    for _ in 0..=text.as_bytes().len() {
        if at.is_null() {
            break;
        }
        // SAFETY: `at` points into `text`, which outlives the loop; the returned string is the
        // library's buffer, copied before the next call (under the lock).
        let out = unsafe { (lib.text_to_phonemes)(&mut at, CHARS_UTF8, PHONEMES_IPA) };
        if out.is_null() {
            break;
        }
        let part = unsafe { CStr::from_ptr(out) }.to_string_lossy();
        let part = part.trim();
        if !part.is_empty() {
            parts.push(part.to_string());
        }
    }
    Some(parts.join(" "))
}

#[cfg(test)]
mod tests {
    /// The program's phonemes, as `tts::phonemize` used to get them for every clause.
    fn by_program(clause: &str) -> Option<String> {
        let o = std::process::Command::new("espeak-ng")
            .args(["-q", "--ipa", "-v", "en-us", "--", clause])
            .output()
            .ok()?;
        let ipa = String::from_utf8_lossy(&o.stdout);
        Some(ipa.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" "))
    }

    #[test]
    fn the_library_gives_the_programs_phonemes() {
        let Some(_) = by_program("hello") else {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but espeak-ng is missing");
            eprintln!("skipping: espeak-ng not installed");
            return;
        };
        assert!(super::in_process(), "espeak-ng is installed, so its library is too");
        for clause in [
            "Good news",
            "your order has been shipped",
            "Order 1002 arrives on November 25th 2026",
            "Maria's order of $12.50",
            "Hello, this is Acme",
        ] {
            assert_eq!(super::clause(clause, "en-us"), by_program(clause), "{clause:?}");
        }
        assert_eq!(super::clause("nul \0 inside", "en-us"), None, "text the library cannot take");
        assert_eq!(super::clause("hello", "no-such-voice"), None);
        assert_eq!(super::clause("", "en-us").as_deref(), Some(""));
    }
}
