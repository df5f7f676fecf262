//! CSV as nimscale writes and reads it, through the `csv` crate (RFC 4180:
//! a field is quoted only when it holds a comma, a quote or a line break;
//! records end in `\n`), so that what one command writes another reads
//! back, whatever a sweep's labels or a metric's name hold.

/// A CSV text being written.
pub struct CsvOut(csv::Writer<Vec<u8>>);

impl Default for CsvOut {
    fn default() -> Self {
        CsvOut(
            csv::WriterBuilder::new()
                .flexible(true)
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(Vec::new()),
        )
    }
}

impl CsvOut {
    /// Appends one record.
    pub fn record<I, T>(&mut self, fields: I)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        // Writing into memory cannot fail, and `flexible` allows any width.
        let _ = self.0.write_record(fields);
    }

    /// The text written.
    pub fn finish(self) -> String {
        let bytes = self
            .0
            .into_inner()
            .unwrap_or_else(|e| e.into_inner().get_ref().clone());
        String::from_utf8(bytes).unwrap_or_default()
    }
}

/// A reader of `text` whose first record is the header; records of any
/// width are returned, for the caller to name a wrong one.
pub fn reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes())
}

/// The 1-based line of `text` a record starts on (for messages only: it
/// counts). The `csv` crate's own line count is one short after CRLF line
/// ends, and its byte offset then points at the `\n`; counting the line
/// breaks up to and including that byte is right for both.
pub fn line_of(text: &str, r: &csv::StringRecord) -> usize {
    let byte = r.position().map_or(0, |p| p.byte() as usize);
    let upto = text.as_bytes().get(..=byte).unwrap_or(text.as_bytes());
    1 + upto.iter().filter(|b| **b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_they_must_be_and_read_back() {
        let mut w = CsvOut::default();
        w.record(["a", "b,c", "say \"hi\"", "two\nlines", "", "1.5"]);
        w.record(["x", "y", "z", "w", "v", "u"]);
        let text = w.finish();
        assert_eq!(
            text,
            "a,\"b,c\",\"say \"\"hi\"\"\",\"two\nlines\",,1.5\nx,y,z,w,v,u\n"
        );
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(&rows[0][3], "two\nlines");
        assert_eq!(line_of(&text, &rows[1]), 3);
        let crlf = "h1,h2\r\na,b\r\nc,d";
        let mut r = reader(crlf);
        let lines: Vec<usize> = r.records().map(|x| line_of(crlf, &x.unwrap())).collect();
        assert_eq!(lines, [2, 3]);
    }
}
