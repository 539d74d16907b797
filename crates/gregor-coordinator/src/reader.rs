//! A bounds-checked big-endian reader over one stored coordinator record
//! key or value (`__consumer_offsets` or `__transaction_state`), with
//! Kafka's primitive encodings (fixed-width integers, `string`, compact
//! strings and arrays, unsigned varints, tagged fields).
//! Shared by every record type's decoder in this crate.

use crate::error::CoordinatorError;

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// What is being read, for error messages.
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader {
            bytes,
            pos: 0,
            what,
        }
    }

    pub(crate) fn bad(&self, why: &str) -> CoordinatorError {
        CoordinatorError::BadRecord(format!("{}: {why}", self.what))
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], CoordinatorError> {
        match self.pos.checked_add(n).filter(|e| *e <= self.bytes.len()) {
            Some(end) => {
                let out = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            None => Err(self.bad(&format!(
                "ends after {} bytes, {n} more needed",
                self.bytes.len()
            ))),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CoordinatorError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn i8(&mut self) -> Result<i8, CoordinatorError> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    pub(crate) fn i16(&mut self) -> Result<i16, CoordinatorError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, CoordinatorError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, CoordinatorError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    pub(crate) fn uuid(&mut self) -> Result<uuid::Uuid, CoordinatorError> {
        Ok(uuid::Uuid::from_bytes(self.array()?))
    }

    pub(crate) fn utf8(&mut self, len: usize) -> Result<String, CoordinatorError> {
        let raw = self.take(len)?;
        String::from_utf8(raw.to_vec()).map_err(|_| self.bad("holds a string that is not UTF-8"))
    }

    /// Kafka's non-nullable `string`: `int16` length, then UTF-8.
    pub(crate) fn string(&mut self) -> Result<String, CoordinatorError> {
        let len = self.i16()?;
        if len < 0 {
            return Err(self.bad(&format!("holds a null or negative-length string ({len})")));
        }
        self.utf8(len as usize)
    }

    pub(crate) fn varint(&mut self) -> Result<u32, CoordinatorError> {
        let mut value = 0u32;
        for shift in (0..35).step_by(7) {
            let [b] = self.array::<1>()?;
            value |= u32::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.bad("holds a varint longer than 5 bytes"))
    }

    /// A compact array's length; null reads as empty.
    pub(crate) fn compact_len(&mut self) -> Result<usize, CoordinatorError> {
        let len = (self.varint()? as usize).saturating_sub(1);
        if len > self.bytes.len() - self.pos {
            return Err(self.bad("holds an array longer than the record"));
        }
        Ok(len)
    }

    /// Kafka's nullable compact `string`: unsigned varint length + 1 (0 = null).
    pub(crate) fn nullable_compact(&mut self) -> Result<Option<String>, CoordinatorError> {
        match self.varint()? {
            0 => Ok(None),
            n => self.utf8(n as usize - 1).map(Some),
        }
    }

    /// Kafka's compact `string`, where null is an error.
    pub(crate) fn compact(&mut self) -> Result<String, CoordinatorError> {
        self.nullable_compact()?
            .ok_or_else(|| self.bad("holds a null compact string"))
    }

    /// Skips the tagged-field section of a flexible version: none is known.
    pub(crate) fn skip_tagged_fields(&mut self) -> Result<(), CoordinatorError> {
        for _ in 0..self.varint()? {
            let _tag = self.varint()?;
            let size = self.varint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }

    /// The end of a flexible struct: its tagged fields, then nothing more.
    pub(crate) fn end_flexible(&mut self) -> Result<(), CoordinatorError> {
        self.skip_tagged_fields()?;
        self.finish()
    }

    /// The bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn finish(&self) -> Result<(), CoordinatorError> {
        match self.bytes.len() - self.pos {
            0 => Ok(()),
            n => Err(self.bad(&format!("has {n} trailing bytes"))),
        }
    }
}
