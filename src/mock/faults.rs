//! Injected failures: what a fault is, and the queue that decides which
//! request gets which one.

use std::collections::VecDeque;
use std::time::Duration;

use super::operation::Operation;

/// A failure the fake serves instead of (or on top of) its normal answer.
///
/// Queue them with [`FakeApi::fail_next`](super::FakeApi::fail_next) or
/// [`FakeApi::fail_next_on`](super::FakeApi::fail_next_on).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// 429 `too_many_requests`, with `Retry-After: <seconds>` when given.
    TooManyRequests {
        /// The `Retry-After` value in seconds, if any.
        retry_after: Option<u64>,
    },
    /// This status (e.g. 500, 502, 503, 504) with an API error body.
    Status(u16),
    /// Any API error: this status with `{"error": {"code", "message"}}`
    /// (e.g. 403 `wrong_region`, to test how your code reports it).
    Api {
        /// The HTTP status.
        status: u16,
        /// The error code, e.g. `wrong_region`.
        code: String,
        /// The error message.
        message: String,
    },
    /// 409 `state_not_ready`: what the API answers an update of an event it
    /// has not finished processing (the SDK retries it).
    StateNotReady,
    /// Exactly this answer: any status, content type and body, such as the
    /// HTML page of a gateway in front of the API (see [`Fault::html`]). The
    /// body goes out as given, never gzipped (the fake's own answers are,
    /// when the client asks).
    Raw {
        /// The HTTP status.
        status: u16,
        /// The `Content-Type` header; none when empty.
        content_type: String,
        /// The body bytes.
        body: Vec<u8>,
    },
    /// The normal answer, sent after this delay. The request takes effect
    /// when it arrives (an update is applied even if the client gives up
    /// waiting).
    Delay(Duration),
    /// The normal answer with its full `Content-Length`, but the connection
    /// closes after this many bytes of the body (fewer when the body is not
    /// longer: at least its last byte is never sent). An answer without a
    /// body is sent whole.
    Truncate {
        /// How many body bytes to send before closing.
        after: usize,
    },
    /// The connection is closed without any answer (the request still takes
    /// effect, like a server that crashed while answering).
    Close,
    /// The connection is reset (a TCP RST, not an orderly close) without any
    /// answer, as a load balancer that drops a connection does; the request
    /// still takes effect. The client sees "connection reset by peer".
    Reset,
    /// Another fault's answer, altered: headers set on it and its body cut
    /// short. Built with [`Fault::with_header`] and [`Fault::cut_after`]
    /// rather than written out. A fault that sends no answer
    /// ([`Fault::Close`], [`Fault::Reset`]) has nothing to alter.
    Altered {
        /// The fault whose answer is altered.
        fault: Box<Fault>,
        /// Headers set on the answer, replacing any of the same name, in
        /// order (a name given twice keeps its last value).
        headers: Vec<(String, String)>,
        /// Close the connection after this many bytes of the body, as
        /// [`Fault::Truncate`] does.
        cut_after: Option<usize>,
    },
}

impl Fault {
    /// A [`Fault::Raw`] answer with an HTML page, as a load balancer or a
    /// proxy in front of the API sends (e.g. `Fault::html(502, "<html>...")`).
    pub fn html(status: u16, page: impl Into<String>) -> Fault {
        Fault::Raw {
            status,
            content_type: "text/html".to_owned(),
            body: page.into().into_bytes(),
        }
    }

    /// A [`Fault::Raw`] answer with a JSON body and this status.
    pub fn json(status: u16, body: &serde_json::Value) -> Fault {
        Fault::Raw {
            status,
            content_type: "application/json".to_owned(),
            body: body.to_string().into_bytes(),
        }
    }

    /// This fault's answer with the header `name` set to `value`: a
    /// `Retry-After` given as an HTTP date, the `Location` of a redirect, a
    /// header your code reads.
    ///
    /// ```
    /// use fingerprint_server_sdk::mock::Fault;
    ///
    /// // A 429 whose Retry-After is a date rather than seconds.
    /// let throttled = Fault::TooManyRequests { retry_after: None }
    ///     .with_header("retry-after", "Wed, 21 Oct 2026 07:28:00 GMT");
    /// // A redirect to another host.
    /// let moved = Fault::Raw { status: 301, content_type: String::new(), body: Vec::new() }
    ///     .with_header("location", "http://elsewhere.example/v4/events/e1");
    /// # let _ = (throttled, moved);
    /// ```
    ///
    /// `Content-Type` replaces the answer's own; `Content-Length` and
    /// `Transfer-Encoding` are the fake's to set (use [`cut_after`](Self::cut_after)
    /// for a short body). A name or value that is not valid HTTP, or one of
    /// those two, is not sent: the fake answers 500 `failed` saying which
    /// header it refused, so the mistake shows in your test.
    pub fn with_header(self, name: impl Into<String>, value: impl Into<String>) -> Fault {
        let header = (name.into(), value.into());
        self.into_altered(|headers, _| headers.push(header))
    }

    /// This fault's answer with its full `Content-Length` but the connection
    /// closed after `after` bytes of the body, as [`Fault::Truncate`] does to
    /// the normal answer: a gateway that dies while sending its error page
    /// is `Fault::Status(503).cut_after(10)`.
    pub fn cut_after(self, after: usize) -> Fault {
        self.into_altered(|_, cut_after| *cut_after = Some(after))
    }

    /// This fault as an [`Fault::Altered`] (itself if it is one already, so
    /// that alterations add up rather than nest), with `alter` applied to
    /// its headers and cut.
    fn into_altered(
        self,
        alter: impl FnOnce(&mut Vec<(String, String)>, &mut Option<usize>),
    ) -> Fault {
        let (fault, mut headers, mut cut_after) = match self {
            Fault::Altered {
                fault,
                headers,
                cut_after,
            } => (fault, headers, cut_after),
            fault => (Box::new(fault), Vec::new(), None),
        };
        alter(&mut headers, &mut cut_after);
        Fault::Altered {
            fault,
            headers,
            cut_after,
        }
    }
}

/// A fault still waiting for its request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueuedFault {
    /// The operation it is for; `None` for the next request of any operation.
    pub operation: Option<Operation>,
    /// What will be served.
    pub fault: Fault,
}

impl QueuedFault {
    /// A fault for the next request of any operation (to compare with
    /// [`FakeApi::queued_faults`](super::FakeApi::queued_faults)).
    pub fn any(fault: Fault) -> Self {
        Self {
            operation: None,
            fault,
        }
    }

    /// A fault for the next request of `operation`.
    pub fn for_operation(operation: Operation, fault: Fault) -> Self {
        Self {
            operation: Some(operation),
            fault,
        }
    }
}

/// The faults not served yet, oldest first.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    queue: VecDeque<QueuedFault>,
}

impl FaultQueue {
    /// Appends `times` copies of `fault` for `operation` (any when `None`).
    pub(crate) fn push(&mut self, operation: Option<Operation>, times: usize, fault: Fault) {
        self.queue
            .extend(std::iter::repeat_n(QueuedFault { operation, fault }, times));
    }

    /// Takes the oldest fault that applies to a request of `operation`: the
    /// first one queued for it or for any operation. Faults for other
    /// operations stay where they are.
    pub(crate) fn take_for(&mut self, operation: Operation) -> Option<Fault> {
        let position = self
            .queue
            .iter()
            .position(|q| q.operation.is_none_or(|op| op == operation))?;
        self.queue.remove(position).map(|q| q.fault)
    }

    pub(crate) fn snapshot(&self) -> Vec<QueuedFault> {
        self.queue.iter().cloned().collect()
    }

    pub(crate) fn clear(&mut self) {
        self.queue.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_taken_oldest_first_and_targeted_ones_wait_for_their_operation() {
        let mut queue = FaultQueue::default();
        queue.push(Some(Operation::UpdateEvent), 1, Fault::StateNotReady);
        queue.push(None, 2, Fault::Status(502));
        queue.push(Some(Operation::SearchEvents), 1, Fault::Close);

        // A get skips the update's fault and takes the first untargeted one.
        assert_eq!(
            queue.take_for(Operation::GetEvent),
            Some(Fault::Status(502))
        );
        // The update's fault was queued first: the update gets it.
        assert_eq!(
            queue.take_for(Operation::UpdateEvent),
            Some(Fault::StateNotReady)
        );
        // A search takes the remaining untargeted one before its own.
        assert_eq!(
            queue.take_for(Operation::SearchEvents),
            Some(Fault::Status(502))
        );
        assert_eq!(queue.take_for(Operation::GetEvent), None);
        assert_eq!(
            queue.snapshot(),
            [QueuedFault {
                operation: Some(Operation::SearchEvents),
                fault: Fault::Close
            }]
        );
        assert_eq!(queue.take_for(Operation::SearchEvents), Some(Fault::Close));
        assert!(queue.snapshot().is_empty());
    }

    #[test]
    fn clear_drops_every_queued_fault() {
        let mut queue = FaultQueue::default();
        queue.push(None, 3, Fault::Status(500));
        queue.clear();
        assert_eq!(queue.take_for(Operation::GetEvent), None);
    }

    #[test]
    fn alterations_gather_on_one_wrapper() {
        let fault = Fault::Status(503)
            .with_header("retry-after", "5")
            .cut_after(3)
            .with_header("x-a", "b");
        assert_eq!(
            fault,
            Fault::Altered {
                fault: Box::new(Fault::Status(503)),
                headers: vec![
                    ("retry-after".to_owned(), "5".to_owned()),
                    ("x-a".to_owned(), "b".to_owned())
                ],
                cut_after: Some(3),
            }
        );
    }

    #[test]
    fn html_and_json_faults_carry_their_content_type() {
        let Fault::Raw {
            status,
            content_type,
            body,
        } = Fault::html(502, "<h1>Bad Gateway</h1>")
        else {
            panic!("not a raw answer");
        };
        assert_eq!((status, content_type.as_str()), (502, "text/html"));
        assert_eq!(body, b"<h1>Bad Gateway</h1>");
        let Fault::Raw { content_type, .. } = Fault::json(200, &serde_json::json!({"a": 1})) else {
            panic!("not a raw answer");
        };
        assert_eq!(content_type, "application/json");
    }
}
