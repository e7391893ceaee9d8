//! Unlabelled sentences from running text.

/// Splits running text into sentences: after `.`, `!` or `?` followed by a space and an
/// upper-case letter, a digit or a quote. Keeps sentences of `min_words..=max_words` words.
///
/// ```
/// use pela_zoo::text::split_sentences;
///
/// let text = "Fires burned near Sydney. About 500 residents left. Was it arson? Police say no.";
/// assert_eq!(
///     split_sentences(text, 3, 40),
///     ["Fires burned near Sydney.", "About 500 residents left.", "Was it arson?", "Police say no."]
/// );
/// ```
pub fn split_sentences(text: &str, min_words: usize, max_words: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut sentences = Vec::new();
    let mut start = 0;
    for i in 0..chars.len() {
        let ends = matches!(chars[i], '.' | '!' | '?')
            && chars.get(i + 1).is_some_and(|c| c.is_whitespace())
            && chars
                .get(i + 2)
                .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit() || *c == '"');
        if ends || i + 1 == chars.len() {
            let sentence: String = chars[start..=i].iter().collect();
            let sentence = sentence.trim();
            let words = sentence.split_whitespace().count();
            if (min_words..=max_words).contains(&words) {
                sentences.push(sentence.to_string());
            }
            start = i + 1;
        }
    }
    sentences
}
