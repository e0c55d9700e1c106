//! The Windows registry, as far as the trust stores need it: a key's
//! fingerprint for the stamp (the cheap change signal behind the stores) and a
//! binary value (the AuthRoot list). Keys are written `HKLM\...` or `HKCU\...`.
//!
//! Compiled everywhere; only the queries are Windows-only.

/// What a stamp line says about a key: `subkeys:values:last_write` (the
/// FILETIME of its last change), or `missing`. The start-up hook replays it
/// from `winreg.QueryInfoKey` (`_registry_fingerprint` in _activate.py):
/// change both together.
pub fn fingerprint_text(subkeys: u32, values: u32, last_write: u64) -> String {
    format!("{subkeys}:{values}:{last_write}")
}

#[cfg(not(windows))]
pub fn key_fingerprint(_key: &str) -> String {
    "missing".to_owned()
}

#[cfg(windows)]
pub use self::windows::{key_fingerprint, read_binary};

#[cfg(all(windows, test))]
pub(crate) use self::windows::{delete_tree, delete_value, write_binary};

#[cfg(windows)]
mod windows {
    use std::io;
    use std::ptr;

    use windows_sys::Win32::Foundation::{
        ERROR_FILE_NOT_FOUND, ERROR_MORE_DATA, ERROR_SUCCESS, FILETIME,
    };
    use windows_sys::Win32::System::Registry::{
        RegCloseKey, RegGetValueW, RegOpenKeyExW, RegQueryInfoKeyW, HKEY, HKEY_CURRENT_USER,
        HKEY_LOCAL_MACHINE, KEY_READ, RRF_RT_REG_BINARY,
    };

    fn wide(text: &str) -> Vec<u16> {
        text.encode_utf16().chain(Some(0)).collect()
    }

    fn hive(key: &str) -> io::Result<(HKEY, &str)> {
        match key.split_once('\\') {
            Some(("HKLM", sub)) => Ok((HKEY_LOCAL_MACHINE, sub)),
            Some(("HKCU", sub)) => Ok((HKEY_CURRENT_USER, sub)),
            _ => Err(io::Error::other(format!("not an HKLM or HKCU key: {key}"))),
        }
    }

    fn check(status: u32) -> io::Result<()> {
        if status == ERROR_SUCCESS {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(status as i32))
        }
    }

    /// An open key, closed on drop.
    struct Key(HKEY);

    impl Drop for Key {
        fn drop(&mut self) {
            // SAFETY: the handle came from RegOpenKeyExW and is closed once.
            unsafe { RegCloseKey(self.0) };
        }
    }

    fn open(key: &str, access: u32) -> io::Result<Option<Key>> {
        let (root, sub) = hive(key)?;
        let mut handle: HKEY = ptr::null_mut();
        // SAFETY: the name is NUL-terminated and outlives the call; handle is an out-pointer.
        let status = unsafe { RegOpenKeyExW(root, wide(sub).as_ptr(), 0, access, &mut handle) };
        if status == ERROR_FILE_NOT_FOUND {
            return Ok(None);
        }
        check(status)?;
        Ok(Some(Key(handle)))
    }

    /// `super::fingerprint_text` of `key`, or `missing` if it cannot be opened.
    pub fn key_fingerprint(key: &str) -> String {
        let Ok(Some(handle)) = open(key, KEY_READ) else {
            return "missing".to_owned();
        };
        let (mut subkeys, mut values) = (0u32, 0u32);
        let mut written = FILETIME {
            dwLowDateTime: 0,
            dwHighDateTime: 0,
        };
        let null = ptr::null_mut();
        // SAFETY: an open key; every out-pointer is valid or null (not wanted).
        let status = unsafe {
            RegQueryInfoKeyW(
                handle.0,
                null as _,
                null,
                ptr::null(),
                &mut subkeys,
                null,
                null,
                &mut values,
                null,
                null,
                null,
                &mut written,
            )
        };
        if status != ERROR_SUCCESS {
            return "missing".to_owned();
        }
        let last_write =
            (u64::from(written.dwHighDateTime) << 32) | u64::from(written.dwLowDateTime);
        super::fingerprint_text(subkeys, values, last_write)
    }

    /// The bytes of the REG_BINARY `value` of `key`; `None` if key or value is absent.
    pub fn read_binary(key: &str, value: &str) -> io::Result<Option<Vec<u8>>> {
        let Some(handle) = open(key, KEY_READ)? else {
            return Ok(None);
        };
        let name = wide(value);
        // Into `buffer` (null: only the size); returns the status and the size.
        let get = |buffer: *mut u8, mut size: u32| {
            // SAFETY: an open key, a NUL-terminated name, a buffer of `size` bytes or null.
            let status = unsafe {
                RegGetValueW(
                    handle.0,
                    ptr::null(),
                    name.as_ptr(),
                    RRF_RT_REG_BINARY,
                    ptr::null_mut(),
                    buffer.cast(),
                    &mut size,
                )
            };
            (status, size)
        };
        loop {
            let (status, size) = get(ptr::null_mut(), 0);
            if status == ERROR_FILE_NOT_FOUND {
                return Ok(None);
            }
            check(status)?;
            let mut data = vec![0u8; size as usize];
            let (status, size) = get(data.as_mut_ptr(), size);
            if status == ERROR_MORE_DATA {
                continue; // it grew in between
            }
            check(status)?;
            data.truncate(size as usize);
            return Ok(Some(data));
        }
    }

    /// Tests only: sets the REG_BINARY `value` of `key`, creating the key.
    #[cfg(test)]
    pub fn write_binary(key: &str, value: &str, bytes: &[u8]) -> io::Result<()> {
        use windows_sys::Win32::System::Registry::{
            RegCreateKeyExW, RegSetValueExW, KEY_ALL_ACCESS, REG_BINARY, REG_OPTION_NON_VOLATILE,
        };
        let (root, sub) = hive(key)?;
        let mut handle: HKEY = ptr::null_mut();
        // SAFETY: NUL-terminated name, valid out-pointers.
        check(unsafe {
            RegCreateKeyExW(
                root,
                wide(sub).as_ptr(),
                0,
                ptr::null(),
                REG_OPTION_NON_VOLATILE,
                KEY_ALL_ACCESS,
                ptr::null(),
                &mut handle,
                ptr::null_mut(),
            )
        })?;
        let handle = Key(handle);
        // SAFETY: an open key, a NUL-terminated name, `bytes` for its length.
        check(unsafe {
            RegSetValueExW(
                handle.0,
                wide(value).as_ptr(),
                0,
                REG_BINARY,
                bytes.as_ptr(),
                bytes.len() as u32,
            )
        })
    }

    /// Tests only: removes `key` and everything under it (absent is fine).
    #[cfg(test)]
    pub fn delete_tree(key: &str) -> io::Result<()> {
        use windows_sys::Win32::System::Registry::RegDeleteTreeW;
        let (root, sub) = hive(key)?;
        // SAFETY: a predefined root key and a NUL-terminated name.
        match unsafe { RegDeleteTreeW(root, wide(sub).as_ptr()) } {
            ERROR_FILE_NOT_FOUND => Ok(()),
            status => check(status),
        }
    }

    /// Tests only: removes `value` from `key` (absent is fine).
    #[cfg(test)]
    pub fn delete_value(key: &str, value: &str) -> io::Result<()> {
        use windows_sys::Win32::System::Registry::{RegDeleteValueW, KEY_ALL_ACCESS};
        let Some(handle) = open(key, KEY_ALL_ACCESS)? else {
            return Ok(());
        };
        // SAFETY: an open key and a NUL-terminated name.
        match unsafe { RegDeleteValueW(handle.0, wide(value).as_ptr()) } {
            ERROR_FILE_NOT_FOUND => Ok(()),
            status => check(status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_line_is_subkeys_values_and_the_last_write_filetime() {
        // The same line tests/test_windows_record.py replays through winreg.
        assert_eq!(
            fingerprint_text(150, 0, 134405889313170590),
            "150:0:134405889313170590"
        );
        #[cfg(not(windows))]
        assert_eq!(key_fingerprint(r"HKLM\SOFTWARE"), "missing");
    }
}
