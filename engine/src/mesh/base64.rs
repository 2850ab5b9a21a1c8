//! Standard base64 (RFC 4648, with padding), as VTK XML uses it.
//!
//! Hand-written (40 lines) instead of the `base64` crate: the decoder must accept VTK's
//! habit of padding the header and the data separately (`=` in the middle of a stream),
//! which the crate's strict decoders reject, and it keeps the dependency list short.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends the base64 encoding of `data` to `out`.
pub(crate) fn encode_into(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(data.len().div_ceil(3) * 4);
    let mut chunks = data.chunks_exact(3);
    for c in &mut chunks {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        out.extend_from_slice(&[
            ALPHABET[(n >> 18) as usize & 63],
            ALPHABET[(n >> 12) as usize & 63],
            ALPHABET[(n >> 6) as usize & 63],
            ALPHABET[n as usize & 63],
        ]);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let b0 = u32::from(rest[0]);
        let b1 = rest.get(1).copied().map_or(0, u32::from);
        let n = (b0 << 16) | (b1 << 8);
        out.push(ALPHABET[(n >> 18) as usize & 63]);
        out.push(ALPHABET[(n >> 12) as usize & 63]);
        out.push(if rest.len() == 2 {
            ALPHABET[(n >> 6) as usize & 63]
        } else {
            b'='
        });
        out.push(b'=');
    }
}

fn value(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Decodes base64, ignoring ASCII whitespace and accepting padding between quanta.
/// On error returns the offset (into `text`) of the offending character.
pub(crate) fn decode(text: &[u8]) -> Result<Vec<u8>, usize> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut quad = [0u32; 4];
    let mut n = 0usize;
    let mut pad = 0usize;
    for (i, &c) in text.iter().enumerate() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            if n < 2 {
                return Err(i);
            }
            pad += 1;
            quad[n] = 0;
            n += 1;
        } else {
            if pad > 0 {
                return Err(i);
            }
            quad[n] = value(c).ok_or(i)?;
            n += 1;
        }
        if n == 4 {
            let v = (quad[0] << 18) | (quad[1] << 12) | (quad[2] << 6) | quad[3];
            let bytes = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
            out.extend_from_slice(&bytes[..3 - pad]);
            n = 0;
            pad = 0;
        }
    }
    if n != 0 {
        return Err(text.len());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_split_padding() {
        for len in 0..20 {
            let data: Vec<u8> = (0..len as u8).map(|x| x.wrapping_mul(37)).collect();
            let mut enc = Vec::new();
            super::encode_into(&data, &mut enc);
            assert_eq!(super::decode(&enc).unwrap(), data);
        }
        let mut a = Vec::new();
        super::encode_into(&[1, 2, 3, 4], &mut a);
        super::encode_into(&[5, 6], &mut a);
        assert_eq!(super::decode(&a).unwrap(), vec![1, 2, 3, 4, 5, 6]);
        assert!(super::decode(b"ab$c").is_err());
        assert!(super::decode(b"abc").is_err());
    }
}
