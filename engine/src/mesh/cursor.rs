//! A small, panic-free cursor over a byte buffer, shared by the hand-written readers.
//!
//! Text is read token by token (whitespace separated, like `fscanf`), tracking the 1-based
//! line of every token so errors can name it. Binary blocks are read with explicit byte
//! offsets; once a reader has entered binary data, errors name byte offsets instead of lines.

use std::str::FromStr;

use super::error::{Location, MeshError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endian {
    Little,
    Big,
}

#[derive(Clone)]
pub(crate) struct Cursor<'a> {
    pub data: &'a [u8],
    pub pos: usize,
    /// Line of `pos` (1-based).
    pub line: usize,
    /// Line of the start of the last token returned.
    pub tok_line: usize,
    /// Byte offset of the start of the last token returned.
    pub tok_pos: usize,
    /// Report byte offsets rather than lines (binary files).
    pub binary: bool,
    /// `#` starts a comment running to the end of the line (TetGen).
    pub comments: bool,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Cursor {
            data,
            pos: 0,
            line: 1,
            tok_line: 1,
            tok_pos: 0,
            binary: false,
            comments: false,
        }
    }

    /// Location of the last token.
    pub fn loc(&self) -> Location {
        if self.binary {
            Location::Byte(self.tok_pos)
        } else {
            Location::Line(self.tok_line)
        }
    }

    /// Location of the current position.
    pub fn here(&self) -> Location {
        if self.binary {
            Location::Byte(self.pos)
        } else {
            Location::Line(self.line)
        }
    }

    pub fn err(&self, msg: impl Into<String>) -> MeshError {
        MeshError::parse(self.loc(), msg)
    }

    pub fn err_here(&self, msg: impl Into<String>) -> MeshError {
        MeshError::parse(self.here(), msg)
    }

    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    pub fn skip_ws(&mut self) {
        while let Some(&b) = self.data.get(self.pos) {
            if b == b'\n' {
                self.line += 1;
            } else if b == b'#' && self.comments {
                while let Some(&b) = self.data.get(self.pos) {
                    if b == b'\n' {
                        break;
                    }
                    self.pos += 1;
                }
                continue;
            } else if !b.is_ascii_whitespace() {
                break;
            }
            self.pos += 1;
        }
    }

    /// Next token without consuming it.
    pub fn peek(&mut self) -> Option<&'a [u8]> {
        let save = self.clone();
        let t = self.token();
        *self = save;
        t
    }

    /// Next whitespace-separated token, or `None` at end of input.
    pub fn token(&mut self) -> Option<&'a [u8]> {
        self.skip_ws();
        if self.pos >= self.data.len() {
            self.tok_line = self.line;
            self.tok_pos = self.pos;
            return None;
        }
        let start = self.pos;
        self.tok_line = self.line;
        self.tok_pos = start;
        while let Some(&b) = self.data.get(self.pos) {
            if b.is_ascii_whitespace() || (b == b'#' && self.comments) {
                break;
            }
            self.pos += 1;
        }
        self.data.get(start..self.pos)
    }

    /// Next token, or an error saying `what` was expected.
    pub fn expect(&mut self, what: &str) -> Result<&'a [u8], MeshError> {
        match self.token() {
            Some(t) => Ok(t),
            None => Err(self.err(format!("expected {what}, found end of file"))),
        }
    }

    /// Next token must equal `word` (ASCII case-insensitive).
    pub fn keyword(&mut self, word: &str) -> Result<(), MeshError> {
        let t = self.expect(&format!("`{word}`"))?;
        if t.eq_ignore_ascii_case(word.as_bytes()) {
            Ok(())
        } else {
            Err(self.err(format!("expected `{word}`, found `{}`", show(t))))
        }
    }

    /// Parses the next token as `T`.
    pub fn parse<T: FromStr>(&mut self, what: &str) -> Result<T, MeshError> {
        let t = self.expect(what)?;
        std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.parse::<T>().ok())
            .ok_or_else(|| self.err(format!("expected {what}, found `{}`", show(t))))
    }

    /// Parses a count and bounds it by what the remaining input could hold, assuming each
    /// item needs at least `min_bytes` bytes.
    pub fn count(&mut self, what: &str, min_bytes: usize) -> Result<usize, MeshError> {
        let n: usize = self.parse(what)?;
        self.check_count(n, what, min_bytes)?;
        Ok(n)
    }

    pub fn check_count(&self, n: usize, what: &str, min_bytes: usize) -> Result<(), MeshError> {
        let cap = self.remaining() / min_bytes.max(1) + 1;
        if n > cap {
            Err(self.err(format!(
                "{what} is {n}, but the rest of the file ({} bytes) cannot hold that many",
                self.remaining()
            )))
        } else {
            Ok(())
        }
    }

    /// Rest of the current line (without the newline), advancing past it.
    pub fn rest_of_line(&mut self) -> &'a [u8] {
        let start = self.pos;
        while let Some(&b) = self.data.get(self.pos) {
            if b == b'\n' {
                break;
            }
            self.pos += 1;
        }
        let end = self.pos;
        if self.pos < self.data.len() {
            self.pos += 1;
            self.line += 1;
        }
        let s = self.data.get(start..end).unwrap_or(&[]);
        s.strip_suffix(b"\r").unwrap_or(s)
    }

    /// Skips to just after the next newline (binary data in Gmsh/VTK starts there).
    pub fn skip_to_next_line(&mut self) {
        let _ = self.rest_of_line();
    }

    /// Raw bytes.
    pub fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], MeshError> {
        let end = self.pos.checked_add(n);
        match end.and_then(|e| self.data.get(self.pos..e)) {
            Some(s) => {
                self.tok_pos = self.pos;
                self.pos += n;
                Ok(s)
            }
            None => {
                self.tok_pos = self.pos;
                Err(MeshError::parse(
                    Location::Byte(self.pos),
                    format!(
                        "expected {what} ({n} bytes), but only {} bytes are left",
                        self.remaining()
                    ),
                ))
            }
        }
    }

    pub fn bin_i32(&mut self, e: Endian, what: &str) -> Result<i32, MeshError> {
        let b = self.bytes(4, what)?;
        let a = [b[0], b[1], b[2], b[3]];
        Ok(match e {
            Endian::Little => i32::from_le_bytes(a),
            Endian::Big => i32::from_be_bytes(a),
        })
    }

    /// An unsigned integer of `size` bytes (4 or 8).
    pub fn bin_uint(&mut self, size: usize, e: Endian, what: &str) -> Result<u64, MeshError> {
        let b = self.bytes(size, what)?;
        let mut a = [0u8; 8];
        match (size, e) {
            (4, Endian::Little) => a[..4].copy_from_slice(b),
            (8, Endian::Little) => a.copy_from_slice(b),
            (4, Endian::Big) => {
                for (i, v) in b.iter().rev().enumerate() {
                    a[i] = *v;
                }
            }
            (8, Endian::Big) => {
                for (i, v) in b.iter().rev().enumerate() {
                    a[i] = *v;
                }
            }
            _ => {
                return Err(MeshError::parse(
                    Location::Byte(self.tok_pos),
                    format!("unsupported integer size {size}"),
                ))
            }
        }
        Ok(u64::from_le_bytes(a))
    }

    pub fn bin_f64(&mut self, e: Endian, what: &str) -> Result<f64, MeshError> {
        let b = self.bytes(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(match e {
            Endian::Little => f64::from_le_bytes(a),
            Endian::Big => f64::from_be_bytes(a),
        })
    }
}

/// A token for an error message: lossy UTF-8, shortened.
pub(crate) fn show(t: &[u8]) -> String {
    let s = String::from_utf8_lossy(t);
    if s.chars().count() > 40 {
        let mut o: String = s.chars().take(40).collect();
        o.push_str("...");
        o
    } else {
        s.into_owned()
    }
}

/// Preallocation bounded by what the input could hold.
pub(crate) fn bounded_capacity(n: usize, remaining: usize, min_bytes: usize) -> usize {
    n.min(remaining / min_bytes.max(1) + 1)
}
