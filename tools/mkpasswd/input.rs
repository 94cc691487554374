//! Reading a password for `-p`: one line from any reader, or from the
//! terminal with echo turned off (as Go's `terminal.ReadPassword` did).

use std::io::{self, ErrorKind, IsTerminal, Read};
use std::mem::MaybeUninit;
use std::os::fd::RawFd;

/// Where `-p` reads its two passwords from.
pub trait PasswordSource {
    /// Reads one password, without its line ending.
    fn read_password(&mut self) -> io::Result<Vec<u8>>;
}

/// Passwords as lines of a reader: a piped stdin, or a test's bytes.
pub struct LineSource<R>(pub R);

impl<R: Read> PasswordSource for LineSource<R> {
    fn read_password(&mut self) -> io::Result<Vec<u8>> {
        read_password_line(&mut self.0)
    }
}

/// Passwords typed at the terminal on stdin, not echoed.
pub struct TerminalSource;

impl PasswordSource for TerminalSource {
    fn read_password(&mut self) -> io::Result<Vec<u8>> {
        let _echo_off = EchoOff::new(libc::STDIN_FILENO)?;
        read_password_line(&mut io::stdin().lock())
    }
}

/// The source for the real stdin: the terminal when it is one, else lines.
pub fn stdin_source() -> Box<dyn PasswordSource> {
    if io::stdin().is_terminal() {
        Box::new(TerminalSource)
    } else {
        Box::new(LineSource(io::stdin().lock()))
    }
}

/// Reads up to `\n` a byte at a time, as Go's `readPasswordLine`: `\r` is
/// dropped, `\b` erases the previous byte, end of input ends a non-empty
/// password and is an error before any byte.
pub fn read_password_line<R: Read + ?Sized>(reader: &mut R) -> io::Result<Vec<u8>> {
    let mut password = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match reader.read(&mut byte) {
            Ok(0) if password.is_empty() => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(0) => return Ok(password),
            Ok(_) => match byte[0] {
                b'\n' => return Ok(password),
                b'\r' => {}
                b'\x08' => {
                    password.pop();
                }
                b => password.push(b),
            },
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Describes a read error the way Go printed it (`EOF`, lower-case errno
/// text such as `inappropriate ioctl for device`).
pub fn go_error_text(err: &io::Error) -> String {
    if err.kind() == ErrorKind::UnexpectedEof {
        return "EOF".to_string();
    }
    let text = err.to_string();
    let text = match err.raw_os_error() {
        Some(code) => text
            .trim_end_matches(&format!(" (os error {code})"))
            .to_string(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

/// Turns terminal echo off on `fd` until dropped, restoring the saved
/// settings on every path out (return, error, panic).
pub struct EchoOff {
    fd: RawFd,
    saved: libc::termios,
}

impl EchoOff {
    /// Saves `fd`'s settings and turns echo off, keeping line editing and
    /// signals on (Go: `Lflag &^= ECHO; Lflag |= ICANON|ISIG; Iflag |= ICRNL`).
    pub fn new(fd: RawFd) -> io::Result<EchoOff> {
        let saved = get_attr(fd)?;
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        quiet.c_lflag |= libc::ICANON | libc::ISIG;
        quiet.c_iflag |= libc::ICRNL;
        set_attr(fd, &quiet)?;
        Ok(EchoOff { fd, saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // Nothing useful to do if restoring fails; the read already happened.
        let _ = set_attr(self.fd, &self.saved);
    }
}

fn get_attr(fd: RawFd) -> io::Result<libc::termios> {
    let mut attr = MaybeUninit::<libc::termios>::uninit();
    // SAFETY: tcgetattr only writes a termios through the valid pointer.
    if unsafe { libc::tcgetattr(fd, attr.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: tcgetattr succeeded, so it filled the whole struct.
    Ok(unsafe { attr.assume_init() })
}

fn set_attr(fd: RawFd, attr: &libc::termios) -> io::Result<()> {
    // SAFETY: tcsetattr only reads the termios behind the valid reference.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, attr) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<io::Result<Vec<u8>>> {
        let mut source = LineSource(input);
        (0..3).map(|_| source.read_password()).collect()
    }

    #[test]
    fn reads_one_line_per_password() {
        let got = lines(b"secret\r\nsec\x08cret\nlast");
        let got: Vec<_> = got.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            got,
            [b"secret".to_vec(), b"secret".to_vec(), b"last".to_vec()]
        );
    }

    #[test]
    fn empty_lines_are_empty_passwords() {
        assert_eq!(lines(b"\n\n\n")[2].as_ref().unwrap(), b"");
    }

    #[test]
    fn end_of_input_before_a_byte_is_eof() {
        let err = lines(b"one\n")[1].as_ref().unwrap_err().kind();
        assert_eq!(err, ErrorKind::UnexpectedEof);
        let err = io::Error::from(err);
        assert_eq!(go_error_text(&err), "EOF");
    }

    #[test]
    fn os_errors_read_like_go() {
        let err = io::Error::from_raw_os_error(libc::ENOTTY);
        assert_eq!(go_error_text(&err), "inappropriate ioctl for device");
    }

    #[test]
    fn echo_off_needs_a_terminal() {
        let (read_end, write_end) = pipe();
        let err = EchoOff::new(read_end)
            .err()
            .expect("a pipe is not a terminal");
        assert_eq!(err.raw_os_error(), Some(libc::ENOTTY));
        close(read_end);
        close(write_end);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn echo_off_is_restored_on_drop() {
        let (master, slave) = pty();
        let before = get_attr(slave).unwrap();
        assert_ne!(before.c_lflag & libc::ECHO, 0, "a new pty echoes");
        {
            let _quiet = EchoOff::new(slave).unwrap();
            let during = get_attr(slave).unwrap();
            assert_eq!(during.c_lflag & libc::ECHO, 0);
            assert_ne!(during.c_lflag & libc::ICANON, 0);
        }
        let after = get_attr(slave).unwrap();
        assert_eq!(after.c_lflag, before.c_lflag);
        assert_eq!(after.c_iflag, before.c_iflag);
        close(slave);
        close(master);
    }

    fn pipe() -> (RawFd, RawFd) {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two fds into the two-element array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        (fds[0], fds[1])
    }

    /// Opens a pseudo-terminal pair: (master, slave).
    #[cfg(target_os = "linux")]
    fn pty() -> (RawFd, RawFd) {
        // SAFETY: plain libc calls on fds this test owns; ptsname_r writes a
        // NUL-terminated path into the buffer of the given length.
        unsafe {
            let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
            assert!(master >= 0, "posix_openpt");
            assert_eq!(libc::grantpt(master), 0);
            assert_eq!(libc::unlockpt(master), 0);
            let mut name = [0 as libc::c_char; 128];
            assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
            let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
            assert!(slave >= 0, "open pty slave");
            (master, slave)
        }
    }

    fn close(fd: RawFd) {
        // SAFETY: the test owns fd and closes it once.
        unsafe { libc::close(fd) };
    }
}
