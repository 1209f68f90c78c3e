//! Reading loghub's samples: shared by the tests of this folder.

/// One CSV record (RFC 4180 quoting) from a single line.
pub fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Parameters of `content` under `template` (`<*>` placeholders), shortest
/// first with backtracking.
pub fn parameters(template: &str, content: &str) -> Option<Vec<String>> {
    fn go(parts: &[&str], text: &str, out: &mut Vec<String>) -> bool {
        let Some((literal, more)) = parts.split_first() else {
            return text.is_empty();
        };
        if more.is_empty() && literal.is_empty() {
            out.push(text.to_string());
            return true;
        }
        let mut from = 0;
        while let Some(found) = text[from..].find(literal) {
            let end = from + found;
            out.push(text[..end].to_string());
            if go(more, &text[end + literal.len()..], out) {
                return true;
            }
            out.pop();
            from = end + text[end..].chars().next().map_or(1, char::len_utf8);
        }
        false
    }
    let parts: Vec<&str> = template.split("<*>").collect();
    let rest = content.strip_prefix(parts[0])?;
    let mut out = Vec::new();
    go(&parts[1..], rest, &mut out).then_some(out)
}
