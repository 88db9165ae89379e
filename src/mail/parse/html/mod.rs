//! HTML to plain text that keeps quotes recognisable.
//!
//! A generic HTML-to-text conversion loses what the reply parser needs most:
//! which lines the approver wrote and which lines are the quoted approval
//! mail. This converter writes every line that sits inside a quote container
//! (`<blockquote>`, Gmail's `gmail_quote`, Yahoo's `yahoo_quoted`,
//! Thunderbird's `moz-cite-prefix`) or after an Outlook reply separator
//! (`divRplyFwdMsg`, `appendonsend`, `<hr>`, the Word "border-top" header
//! block) with a `> ` prefix per quote level, exactly as a plain-text client
//! would have quoted it.
//!
//! It is a single forward pass over the input with a bounded element stack,
//! so its running time is linear in the input and hostile markup cannot make
//! it panic, loop or allocate without bound.
//!
//! `markup` reads tags, `elements` says what each means, and the converter
//! here writes the text.

mod elements;
mod markup;

use super::entities::decode_entity;
use elements::{is_block, is_hidden, is_void, quote_role, QuoteRole};
use markup::{markup_at, Markup, StartTag, TagName};

/// Element nesting kept track of; deeper elements are counted but not
/// remembered, which bounds the cost of matching an end tag.
const MAX_STACK: usize = 256;

/// Quote levels written as `> ` prefixes. Beyond this the prefix stops
/// growing, so nested hostile blockquotes cannot multiply the output size.
const MAX_QUOTE_PREFIX: u16 = 10;

/// Converts an HTML body to text, prefixing quoted lines with `> `.
pub(crate) fn html_to_text(html: &str) -> String {
    let mut conv = Converter::new();
    // The text is a fraction of the markup; start with room for a part of it.
    conv.out.reserve(html.len() / 4);
    let bytes = html.as_bytes();
    let mut text_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let Some(lt) = bytes.get(i..).and_then(|rest| memchr::memchr(b'<', rest)) else {
            break;
        };
        i += lt;
        match markup_at(bytes, i) {
            Some((markup, next)) => {
                conv.text(html.get(text_start..i).unwrap_or(""));
                conv.markup(markup);
                i = next.max(i + 1);
                text_start = i;
            }
            None => i += 1,
        }
    }
    conv.text(html.get(text_start..).unwrap_or(""));
    conv.finish()
}

/// Characters that take no room and are dropped from the text.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// One open element and the state its content inherits.
struct Frame {
    /// Lowercased name, to match the end tag.
    name: TagName,
    /// Number of enclosing `<blockquote>` elements.
    blockquotes: u16,
    /// Inside a client's quote container or after a reply separator.
    marked: bool,
    /// Inside `<pre>`: whitespace is kept.
    pre: bool,
    /// Inside `display:none`: text is not shown to the reader, so not to the
    /// reply parser either.
    hidden: bool,
    /// Starts and ends a line: closing it ends the current line.
    block: bool,
}

impl Frame {
    fn quote_level(&self) -> u16 {
        self.blockquotes.max(u16::from(self.marked))
    }
}

struct Converter {
    /// Open elements; index 0 is a root frame that is never popped.
    stack: Vec<Frame>,
    /// Elements opened beyond `MAX_STACK`, closed by any end tag.
    overflow: usize,
    /// Inside `<head>` (until `</head>` or `<body>`): nothing is shown.
    in_head: bool,
    /// Finished lines.
    out: String,
    /// The line being built, without its quote prefix.
    line: String,
    /// Whitespace seen since the last character: written as one space
    /// before the next visible character.
    pending_space: bool,
    /// The last line written was empty: runs of empty lines collapse to one.
    last_blank: bool,
}

impl Converter {
    fn new() -> Self {
        Converter {
            stack: vec![Frame {
                name: TagName::default(),
                blockquotes: 0,
                marked: false,
                pre: false,
                hidden: false,
                block: true,
            }],
            overflow: 0,
            in_head: false,
            out: String::new(),
            line: String::new(),
            pending_space: false,
            last_blank: true,
        }
    }

    fn top(&self) -> Option<&Frame> {
        self.stack.last()
    }

    fn text(&mut self, raw: &str) {
        let (hidden, pre) = self.top().map_or((false, false), |f| (f.hidden, f.pre));
        if raw.is_empty() || hidden || self.in_head {
            return;
        }
        let mut rest = raw;
        while let Some(amp) = rest.find('&') {
            let (before, from_amp) = rest.split_at(amp);
            self.chars(before, pre);
            match decode_entity(from_amp) {
                Some((decoded, used)) => {
                    self.chars(decoded.encode_utf8(&mut [0u8; 4]), pre);
                    rest = from_amp.get(used..).unwrap_or("");
                }
                None => {
                    self.chars("&", pre);
                    rest = from_amp.get(1..).unwrap_or("");
                }
            }
        }
        self.chars(rest, pre);
    }

    /// Appends text to the current line: invisible characters dropped,
    /// runs of white space collapsed to one space (kept as written in
    /// `<pre>`). Outside `<pre>` the runs of visible characters between
    /// them are copied as whole slices; [`Converter::chars_one_by_one`]
    /// is the same, a character at a time.
    fn chars(&mut self, s: &str, pre: bool) {
        if pre {
            self.chars_one_by_one(s, true);
            return;
        }
        let bytes = s.as_bytes();
        let mut run_start = 0;
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            let (len, visible, space) = if b.is_ascii() {
                // The ASCII characters `char::is_whitespace` accepts.
                let space = matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ');
                (1, !space, space)
            } else {
                let c = s
                    .get(i..)
                    .and_then(|rest| rest.chars().next())
                    .unwrap_or(' ');
                let invisible = is_invisible(c);
                let space = !invisible && c.is_whitespace();
                (c.len_utf8(), !invisible && !space, space)
            };
            if !visible {
                self.push_run(s.get(run_start..i).unwrap_or(""));
                if space {
                    self.pending_space = !self.line.is_empty();
                }
                run_start = i + len;
            }
            i += len;
        }
        self.push_run(s.get(run_start..).unwrap_or(""));
    }

    /// Appends visible characters, after the pending space if any.
    fn push_run(&mut self, run: &str) {
        if run.is_empty() {
            return;
        }
        if self.pending_space {
            self.line.push(' ');
            self.pending_space = false;
        }
        self.line.push_str(run);
    }

    fn chars_one_by_one(&mut self, s: &str, pre: bool) {
        for c in s.chars() {
            match c {
                c if is_invisible(c) => {}
                '\n' if pre => self.end_line(true),
                '\r' if pre => {}
                c if pre && c.is_whitespace() => self.line.push(' '),
                c if c.is_whitespace() => self.pending_space = !self.line.is_empty(),
                c => {
                    if self.pending_space {
                        self.line.push(' ');
                        self.pending_space = false;
                    }
                    self.line.push(c);
                }
            }
        }
    }

    /// Ends the current line. A `forced` break (`<br>`, a newline in
    /// `<pre>`) may produce an empty line; a block boundary only ends a
    /// line that has text.
    fn end_line(&mut self, forced: bool) {
        let level = self
            .top()
            .map_or(0, |f| f.quote_level())
            .min(MAX_QUOTE_PREFIX);
        let content = self.line.trim_end();
        if content.is_empty() {
            if forced && !self.last_blank {
                let prefix = "> ".repeat(usize::from(level));
                self.out.push_str(prefix.trim_end());
                self.out.push('\n');
                self.last_blank = true;
            }
        } else {
            for _ in 0..level {
                self.out.push_str("> ");
            }
            self.out.push_str(content);
            self.out.push('\n');
            self.last_blank = false;
        }
        self.line.clear();
        self.pending_space = false;
    }

    fn markup(&mut self, markup: Markup<'_>) {
        match markup {
            Markup::Start(tag) => self.start(tag),
            Markup::End(name) => self.end(name.as_str()),
            Markup::Ignored | Markup::Skipped => {}
        }
    }

    fn start(&mut self, tag: StartTag<'_>) {
        let name = tag.name.as_str();
        match name {
            "head" => self.in_head = true,
            "body" => self.in_head = false,
            "br" => {
                self.end_line(true);
                return;
            }
            "td" | "th" => self.pending_space = !self.line.is_empty(),
            _ => {}
        }
        self.close_implied(name);
        let role = quote_role(&tag);
        let block = is_block(name) || role != QuoteRole::None;
        if block {
            self.end_line(false);
        }
        if role == QuoteRole::FromHere {
            if let Some(parent) = self.stack.last_mut() {
                parent.marked = true;
            }
        }
        if is_void(name) || tag.self_closing {
            return;
        }
        if self.stack.len() >= MAX_STACK {
            self.overflow += 1;
            return;
        }
        let hidden = self.top().is_some_and(|parent| parent.hidden) || is_hidden(&tag);
        let pre = name == "pre";
        let frame = match self.top() {
            Some(parent) => Frame {
                name: tag.name,
                blockquotes: parent
                    .blockquotes
                    .saturating_add(u16::from(role == QuoteRole::Blockquote)),
                marked: parent.marked || role == QuoteRole::Container,
                pre: parent.pre || pre,
                hidden,
                block,
            },
            None => return,
        };
        self.stack.push(frame);
    }

    /// HTML lets `<p>`, `<li>`, `<tr>`, `<td>` go unclosed; close them the
    /// way a browser would so they do not pile up on the stack.
    fn close_implied(&mut self, name: &str) {
        let Some(top) = self.top() else { return };
        let close = match top.name.as_str() {
            "p" => is_block(name),
            "li" => name == "li",
            "dt" | "dd" => name == "dt" || name == "dd",
            "td" | "th" => matches!(name, "td" | "th" | "tr"),
            "tr" => name == "tr",
            "option" => name == "option",
            _ => false,
        };
        if close && self.stack.len() > 1 {
            self.end_line(false);
            self.stack.pop();
        }
    }

    fn end(&mut self, name: &str) {
        if name == "head" {
            self.in_head = false;
        }
        if name == "br" {
            self.end_line(true);
            return;
        }
        if self.overflow > 0 {
            self.overflow -= 1;
            if is_block(name) {
                self.end_line(false);
            }
            return;
        }
        let found = self
            .stack
            .iter()
            .enumerate()
            .skip(1)
            .rev()
            .find(|(_, f)| f.name.as_bytes() == name.as_bytes())
            .map(|(i, _)| i);
        match found {
            Some(index) => {
                let closes_block = self
                    .stack
                    .get(index..)
                    .is_some_and(|frames| frames.iter().any(|f| f.block));
                if closes_block {
                    self.end_line(false);
                }
                self.stack.truncate(index);
            }
            None => {
                if is_block(name) {
                    self.end_line(false);
                }
            }
        }
    }

    fn finish(mut self) -> String {
        self.end_line(false);
        let trimmed_len = self.out.trim_end().len();
        self.out.truncate(trimmed_len);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::{html_to_text, Converter};

    /// Outside `<pre>` text is appended run by run; a character at a time
    /// must give the same line, pending space and output, from any state.
    #[test]
    fn run_copying_matches_char_by_char() {
        let texts = [
            "",
            " ",
            "word",
            "  two   words  ",
            "\t\n\x0b\x0c\r mixed ASCII space \r\n",
            "caf\u{e9} a\u{e7}\u{e3}o \u{20ac}5",
            "a\u{a0}b\u{2003}c\u{3000}d\u{85}e\u{2028}f\u{202f}g",
            "in\u{200b}vis\u{200c}ible\u{200d}\u{feff}soft\u{ad}hyphen",
            "\u{200b} \u{200b}",
            " \u{feff}x",
            "x\u{ad} ",
            "APPROVE &amp; <not a tag>",
            "\u{1f44d}\u{1f3fd} ok",
            "\u{1680}ogham\u{1680}",
            "\u{0}nul\u{7f}del",
        ];
        let states = [("", false), ("", true), ("text", false), ("text", true)];
        for text in texts {
            for (line, pending) in states {
                let mut fast = Converter::new();
                let mut slow = Converter::new();
                for c in [&mut fast, &mut slow] {
                    c.line.push_str(line);
                    c.pending_space = pending;
                }
                fast.chars(text, false);
                slow.chars_one_by_one(text, false);
                assert_eq!(fast.line, slow.line, "{text:?} from {line:?} {pending}");
                assert_eq!(fast.pending_space, slow.pending_space, "{text:?}");
                assert_eq!(fast.out, slow.out, "{text:?}");
                // Text that follows must see the same state too.
                fast.chars("next", false);
                slow.chars_one_by_one("next", false);
                assert_eq!(fast.line, slow.line, "{text:?} then more");
            }
        }
    }

    #[test]
    fn quote_markers_ignore_ascii_case_only() {
        let cases: &[(&str, &str)] = &[
            ("<div>x</div><div id=\"DivRplyFwdMsg\">H</div><div>o</div>", "x\n> H\n> o"),
            ("<div>x</div><div id=\"APPENDONSEND\"></div><div>o</div>", "x\n> o"),
            ("<div>x</div><div id=\"d\u{131}vrplyfwdmsg\">H</div>", "x\nH"),
            ("<div>x</div><div id=\"divrplyfwdmsg2\">H</div>", "x\nH"),
            ("<div>x</div><div class=\"A YAHOO_QUOTED_1\">q</div>y", "x\n> q\ny"),
            ("<div>x</div><div id=\"Yahoo_Quoted_9\">q</div>y", "x\n> q\ny"),
            ("<div>x</div><div id=\"yahoo_quote\">q</div>y", "x\nq\ny"),
            ("<div>x</div><div id=\"a_yahoo_quoted\">q</div>y", "x\nq\ny"),
            ("<div>x</div><div class=\"GMAIL_QUOTE\">q</div>y", "x\n> q\ny"),
            (
                "<p>x</p><div style=\"BORDER-TOP: SOLID #E1E1E1 1.0PT; PADDING: 3.0PT 0CM\">H</div>",
                "x\n> H",
            ),
            ("<p>x</p><div style=\"\">H</div>", "x\nH"),
            ("<p>x</p><DIV STYLE=\"Display : None\">H</DIV>", "x"),
            ("<p>x</p><div style=\"display:n\u{f6}ne\">H</div>", "x\nH"),
        ];
        for (html, want) in cases {
            assert_eq!(html_to_text(html), *want, "input {html:?}");
        }
    }

    #[test]
    fn converts_blocks_breaks_and_entities() {
        let cases: &[(&str, &str)] = &[
            ("<p>Hello</p><p>World</p>", "Hello\nWorld"),
            ("a<br>b<br/>c</br>d", "a\nb\nc\nd"),
            ("<div>x</div><div><br></div><div>y</div>", "x\n\ny"),
            (
                "Tom &amp; Jerry&nbsp;&#39;s &#x2F; &lt;x&gt; &quot;q&quot;",
                "Tom & Jerry 's / <x> \"q\"",
            ),
            ("caf&eacute; a&ccedil;&atilde;o &euro;5", "café ação €5"),
            ("&unknown; & &#; &#xZZ;", "&unknown; & &#; &#xZZ;"),
            ("<ul><li>one<li>two</ul>", "one\ntwo"),
            ("<h1>T</h1>text", "T\ntext"),
            (
                "<table><tr><td>From:</td><td>x</td></tr></table>",
                "From: x",
            ),
            ("  lots   of\n\t  space  ", "lots of space"),
            ("<pre>a  b\n  c</pre>", "a  b\n  c"),
            ("x<span>y</span>z", "xyz"),
            ("a\u{200B}b", "ab"),
        ];
        for (html, want) in cases {
            assert_eq!(html_to_text(html), *want, "input {html:?}");
        }
    }

    #[test]
    fn drops_head_style_script_comments_and_hidden() {
        let html = "<!DOCTYPE html><html><head><title>T</title><meta charset=utf-8>\
            <style>p{color:red}</style></head><body><!-- c --><script>x<y</script>\
            <!--[if mso]>mso<![endif]-->\
            <div style=\"display: none\">preheader</div><p>Visible</p></body></html>";
        assert_eq!(html_to_text(html), "Visible");
    }

    #[test]
    fn unclosed_head_is_ended_by_body() {
        assert_eq!(html_to_text("<head><meta x><body>Hi"), "Hi");
    }

    #[test]
    fn nested_blockquotes_get_one_prefix_per_level() {
        let html = "<div>Approve</div><blockquote>Level 1<blockquote>Level 2</blockquote>\
            back to 1</blockquote>after";
        assert_eq!(
            html_to_text(html),
            "Approve\n> Level 1\n> > Level 2\n> back to 1\nafter"
        );
    }

    #[test]
    fn client_quote_markers_quote_their_content() {
        let cases: &[(&str, &str)] = &[
            (
                "<div dir=\"ltr\">APPROVE</div><br><div class=\"gmail_quote\">\
                 <div dir=\"ltr\" class=\"gmail_attr\">On Fri, A wrote:<br></div>\
                 <blockquote class=\"gmail_quote\" style=\"margin:0\">Original</blockquote></div>",
                "APPROVE\n\n> On Fri, A wrote:\n> Original",
            ),
            (
                "<p>OK</p><div class=\"moz-cite-prefix\">On 20/11, A wrote:<br></div>\
                 <blockquote type=\"cite\">Original</blockquote><p>Below</p>",
                "OK\n> On 20/11, A wrote:\n> Original\nBelow",
            ),
            (
                "<div>Sim</div><div id=\"yahoo_quoted_123\" class=\"yahoo_quoted\">\
                 <div>On Friday, A wrote:</div><div>Original</div></div>",
                "Sim\n> On Friday, A wrote:\n> Original",
            ),
        ];
        for (html, want) in cases {
            assert_eq!(html_to_text(html), *want, "input {html:?}");
        }
    }

    #[test]
    fn outlook_separator_quotes_everything_after_it_in_the_parent() {
        let owa = "<div>APPROVE</div><div id=\"appendonsend\"></div>\
            <hr style=\"display:inline-block;width:98%\" tabindex=\"-1\">\
            <div id=\"divRplyFwdMsg\" dir=\"ltr\"><font><b>From:</b> A<br><b>Sent:</b> B</font></div>\
            <div>Original body</div>";
        assert_eq!(
            html_to_text(owa),
            "APPROVE\n> From: A\n> Sent: B\n> Original body"
        );
        let word = "<div class=\"WordSection1\"><p class=\"MsoNormal\">Aprovado<o:p></o:p></p>\
            <div style=\"border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm\">\
            <p class=\"MsoNormal\"><b>De:</b> A<br><b>Enviado:</b> B</p></div>\
            <p class=\"MsoNormal\">Original</p></div><p>outside</p>";
        assert_eq!(
            html_to_text(word),
            "Aprovado\n> De: A\n> Enviado: B\n> Original\noutside"
        );
    }

    #[test]
    fn hostile_markup_does_not_hang_or_panic() {
        let repeated_open = "<blockquote>".repeat(5000);
        let repeated_close = "</blockquote>".repeat(5000);
        let cases = [
            "<",
            "<<<<>>>>",
            "</",
            "</>",
            "<!--",
            "<!",
            "<a href=\"unterminated",
            "<div class='x",
            "<script>never closed",
            "<style>",
            "&#99999999999;&#x110000;&#0;",
            repeated_open.as_str(),
            repeated_close.as_str(),
            "<p a=b c = d e='f' g=\"h\" / =>x",
        ];
        for html in cases {
            let _ = html_to_text(html);
        }
        let deep = format!("{}x", "<blockquote>".repeat(100_000));
        let out = html_to_text(&deep);
        assert!(out.starts_with(&"> ".repeat(10)), "prefix is capped");
        assert!(out.len() < 64);
    }

    #[test]
    fn regression_quote_prefix_does_not_leak_past_the_closing_blockquote() {
        assert_eq!(html_to_text("<blockquote>q</blockquote>mine"), "> q\nmine");
    }

    /// Text a reader cannot see is not part of the reply: each of these
    /// hides "APPROVE" before the visible "no".
    #[test]
    fn invisible_text_is_dropped() {
        let hiding = [
            r#"<div style="display:none">APPROVE</div>"#,
            r#"<span style="DISPLAY: none !important">APPROVE</span>"#,
            r#"<div style="visibility:hidden">APPROVE</div>"#,
            r#"<span style="font-size:0">APPROVE</span>"#,
            r#"<span style="font-size: 0px">APPROVE</span>"#,
            r#"<span style="opacity:0">APPROVE</span>"#,
            r#"<span style="opacity:0.0">APPROVE</span>"#,
            r#"<div style="max-height:0;overflow:hidden">APPROVE</div>"#,
            r#"<span style="color:#fff;background-color:#ffffff">APPROVE</span>"#,
            r#"<span style="color:white;background:rgb(255,255,255)">APPROVE</span>"#,
            r#"<p hidden>APPROVE</p>"#,
            r#"<p aria-hidden="true">APPROVE</p>"#,
            r#"<div style="display:none"><p><b>APPROVE</b></p></div>"#,
            r#"<head><meta name="x" content="y"></head>"#,
            r#"<style>p::before { content: "APPROVE" }</style>"#,
            r#"<script>document.write("APPROVE")</script>"#,
            r#"<!--[if mso]>APPROVE<![endif]-->"#,
        ];
        for html in hiding {
            let text = html_to_text(&format!("{html}<p>no</p>"));
            assert!(!text.contains("APPROVE"), "{html}: {text:?}");
            assert!(text.contains("no"), "{html}: {text:?}");
        }
        let visible = [
            r#"<span style="color:#000;background-color:#fff">APPROVE</span>"#,
            r#"<span style="font-size:14px">APPROVE</span>"#,
            r#"<span style="opacity:1">APPROVE</span>"#,
        ];
        for html in visible {
            assert!(html_to_text(html).contains("APPROVE"), "{html}");
        }
    }
}
