//! The check that a request still has its operation's path shape: an id
//! that was empty, `.` or `..` changes it once the URL parser has resolved
//! dot segments, so it is refused before anything is sent.

/// Checks that `path` (the request URL's path, after the URL parser resolved
/// dot segments) is `base_path` followed by `template` with every parameter
/// non-empty. An id that was empty, `.` or `..` changes the shape
/// (`/events/..` becomes `/`), so it is caught here before anything is sent.
pub(crate) fn check_path(
    operation: &str,
    template: &'static str,
    base_path: &str,
    path: &str,
) -> Result<(), String> {
    let rest = path
        .strip_prefix(base_path.trim_end_matches('/'))
        .unwrap_or("");
    let refuse = |which: &str| {
        Err(format!(
            "{which} must not be empty, \".\" or \"..\" (operation {operation}, path {template})"
        ))
    };
    let param = |segment: &'static str| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
    // Segment by segment, without allocating: this runs on every call.
    let mut actual = rest.split('/').skip(1);
    for want in template.split('/').skip(1) {
        match (param(want), actual.next()) {
            (Some(name), Some("")) => return refuse(name),
            (Some(_), Some(_)) => {}
            (None, Some(got)) if got == want => {}
            _ => return refuse(&describe(template)),
        }
    }
    match actual.next() {
        None => Ok(()),
        Some(_) => refuse(&describe(template)),
    }
}

/// Names the parameters of `template`, for an error about its shape.
fn describe(template: &str) -> String {
    let params: Vec<&str> = template
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect();
    match params.as_slice() {
        [] => "the path".to_owned(),
        [one] => (*one).to_owned(),
        many => format!("each of {}", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: &str = "/events/{event_id}";

    fn check(base: &str, path: &str) -> Result<(), String> {
        check_path("get_event", GET, base, path)
    }

    #[test]
    fn accepts_a_normal_id() {
        assert!(check("/v4", "/v4/events/1708102555327.NLOjmg").is_ok());
        assert!(check("/", "/events/abc").is_ok());
        assert!(check("/proxy/v4/", "/proxy/v4/events/a%2Fb").is_ok());
    }

    #[test]
    fn refuses_empty_and_dot_segments_after_normalisation() {
        let empty = check("/v4", "/v4/events/").unwrap_err();
        assert!(empty.contains("event_id must not be empty"), "{empty}");
        // What reqwest leaves of `/v4/events/..` and `/v4/events/.`.
        assert!(check("/v4", "/v4/").is_err());
        assert!(check("/v4", "/v4/events/").is_err());
        assert!(check("/v4", "/v4/events").is_err());
    }

    #[test]
    fn every_generated_operation_is_checked_against_its_template() {
        let names: Vec<&str> = crate::generated::operations::ALL
            .iter()
            .map(|op| op.name)
            .collect();
        assert_eq!(
            names,
            [
                "analyze_request_for_automation_intelligence",
                "delete_visitor_data",
                "get_event",
                "search_events",
                "update_event",
            ]
        );
        for op in crate::generated::operations::ALL {
            let filled = op
                .template
                .replace("{event_id}", "e")
                .replace("{visitor_id}", "v");
            assert!(check_path(op.name, op.template, "/v4", &format!("/v4{filled}")).is_ok());
        }
    }
}
