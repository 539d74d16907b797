//! Length-prefixed framing: every Kafka request and response is a 4-byte
//! big-endian size followed by that many bytes.

use bytes::{Buf, BytesMut};

use crate::ProtocolError;

/// Size of the length prefix in front of every frame.
pub const FRAME_PREFIX_BYTES: usize = 4;

/// Splits one complete frame off the front of `buf`, if a whole one is there.
///
/// Returns `Ok(None)` when more bytes are needed, and an error when the
/// announced length is negative or above `frame_bytes_max`, which the caller
/// treats as a reason to close the connection (as Kafka does with
/// `socket.request.max.bytes`).
pub fn split_frame(
    buf: &mut BytesMut,
    frame_bytes_max: usize,
) -> Result<Option<BytesMut>, ProtocolError> {
    if buf.len() < FRAME_PREFIX_BYTES {
        return Ok(None);
    }
    let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if len < 0 || len as usize > frame_bytes_max {
        return Err(ProtocolError::FrameTooLarge {
            len: len as i64,
            max: frame_bytes_max,
        });
    }
    let len = len as usize;
    if buf.len() < FRAME_PREFIX_BYTES + len {
        // Reserve up front so a large frame arrives without repeated regrowth.
        buf.reserve(FRAME_PREFIX_BYTES + len - buf.len());
        return Ok(None);
    }
    buf.advance(FRAME_PREFIX_BYTES);
    Ok(Some(buf.split_to(len)))
}

/// Announced length of the frame at the front of `buf`, once its prefix is there.
pub fn peek_frame_len(buf: &[u8]) -> Option<i32> {
    (buf.len() >= FRAME_PREFIX_BYTES).then(|| i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_whole_frames_and_waits_for_partial_ones() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[0, 0, 0, 3, b'a', b'b']);
        assert!(split_frame(&mut buf, 100).unwrap().is_none());
        buf.extend_from_slice(&[b'c', 0, 0]);
        let f = split_frame(&mut buf, 100).unwrap().unwrap();
        assert_eq!(&f[..], b"abc");
        assert!(split_frame(&mut buf, 100).unwrap().is_none());
        assert_eq!(&buf[..], &[0, 0]);
    }

    #[test]
    fn rejects_negative_and_oversized_lengths() {
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            split_frame(&mut buf, 100),
            Err(ProtocolError::FrameTooLarge { .. })
        ));
        let mut buf = BytesMut::from(&[0x7f, 0, 0, 0][..]);
        assert!(matches!(
            split_frame(&mut buf, 100),
            Err(ProtocolError::FrameTooLarge { .. })
        ));
    }
}
