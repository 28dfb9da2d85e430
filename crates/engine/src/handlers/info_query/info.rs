//! What one information class of a QUERY_INFO produced (the buffer rules are in the
//! [parent module](super)).

/// What a class produced: the bytes, and the smallest output buffer the class
/// accepts (shorter ones get INFO_LENGTH_MISMATCH).
pub(super) struct Info {
    pub(super) data: Vec<u8>,
    pub(super) min: usize,
}

impl Info {
    pub(super) fn fixed(data: Vec<u8>) -> Info {
        let min = data.len();
        Info { data, min }
    }
}
