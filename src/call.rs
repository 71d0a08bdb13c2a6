//! One operation call from the user's side: the `send()` of every builder
//! runs through [`run`], which applies the operation timeout, keeps what the
//! request loop saw (attempts, last status, `Retry-After`) and turns
//! progenitor's error into the crate's [`Error`].

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use progenitor_client::ClientInfo;
use reqwest::StatusCode;

use crate::{ApiError, Error, ResponseValue};

/// What the request loop of one call saw, shared between [`run`] and the
/// client's `exec` hook through a task-local.
#[derive(Debug, Default)]
struct Report {
    attempts: u32,
    /// The status of the last response, whichever attempt it came from.
    status: Option<StatusCode>,
    /// The status of the current attempt's response (`None` until its
    /// headers arrive): a transport error of this attempt reports this one.
    attempt_status: Option<StatusCode>,
}

tokio::task_local! {
    static REPORT: Arc<Mutex<Report>>;
}

fn with_report(f: impl FnOnce(&mut Report)) {
    let _ = REPORT.try_with(|report| {
        let mut guard = report.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard);
    });
}

/// Called by the request loop when an attempt starts.
pub(crate) fn record_attempt(attempt: u32) {
    with_report(|r| {
        r.attempts = attempt;
        r.attempt_status = None;
    });
}

/// Called by the request loop when an attempt got a response.
pub(crate) fn record_response(status: StatusCode) {
    with_report(|r| {
        r.status = Some(status);
        r.attempt_status = Some(status);
    });
}

/// Runs one operation (`send_raw` of a generated builder) and converts its
/// outcome.
///
/// Not an `async fn`: the request future of an operation is about 4.5 KB,
/// and an `async fn` taking it as an argument would hold it twice (the
/// argument, and the copy being polled), making every future above it
/// (`send()` and the caller's) as large, and copied as such on each call.
/// Boxed here once, it is allocated once and never moved again. Measured
/// with callgrind (BENCHMARKS.md), this is the cheapest of the shapes tried:
/// the allocation costs about 9,000 instructions per call with glibc's
/// allocator, moving the unboxed future through combinators more.
pub(crate) fn run<C: ClientInfo<crate::client::Inner>, T, E>(
    client: &C,
    operation: &'static str,
    call: impl Future<Output = Result<ResponseValue<T>, progenitor_client::Error<E>>>,
) -> impl Future<Output = Result<ResponseValue<T>, Error>> {
    let limit = client.inner().settings().operation_timeout;
    let call = Box::pin(call);
    async move {
        // The outcome holds the success value (an `Event` is several KB). It
        // lives in this inner block only, so that it is gone before the
        // `.await` of the error path: a local that outlived it would be kept
        // in this future's state, making every call's future that large.
        let (error, report) = {
            let report = Arc::new(Mutex::new(Report::default()));
            let outcome = tokio::time::timeout(limit, REPORT.scope(report.clone(), call)).await;
            let report =
                std::mem::take(&mut *report.lock().unwrap_or_else(PoisonError::into_inner));
            match outcome {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(error)) => (error, report),
                Err(_elapsed) => {
                    return Err(Error::Timeout {
                        operation,
                        limit,
                        attempts: report.attempts,
                        last_status: report.status,
                    });
                }
            }
        };
        // Boxed: the error path is rare, and its future (it may read a
        // body) would otherwise add most of a KB to every call's future.
        Err(Box::pin(convert(operation, error, report)).await)
    }
}

/// The most of an unexpected body kept in an error.
const MAX_ERROR_BODY: usize = 1 << 20;

async fn convert<E>(
    operation: &'static str,
    error: progenitor_client::Error<E>,
    report: Report,
) -> Error {
    use progenitor_client::Error as P;
    match error {
        P::InvalidRequest(message) | P::Custom(message) => {
            Error::InvalidRequest { operation, message }
        }
        // `without_url`: the URL adds nothing the operation name does not
        // say, and with the v3 query-key opt-in it would carry the key.
        P::CommunicationError(source)
        | P::InvalidUpgrade(source)
        | P::ResponseBodyError(source) => Error::Transport {
            operation,
            status: report.attempt_status,
            attempts: report.attempts.max(1),
            source: source.without_url(),
        },
        // Only a success status is decoded by the generated code (build.rs
        // leaves the error responses out), so this is always a success
        // status with a body that does not fit.
        P::InvalidResponsePayload(bytes, source) => Error::Decode {
            operation,
            status: report.attempt_status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            source,
            attempts: report.attempts.max(1),
        },
        // With the error responses left out of the generated code (see
        // build.rs), every error status arrives here, whole.
        P::ErrorResponse(value) => Error::Api {
            operation,
            status: value.status(),
            error: None,
            body: String::new(),
            retry_after: crate::retry::retry_after(value.headers(), SystemTime::now()),
            attempts: report.attempts.max(1),
        },
        P::UnexpectedResponse(response) => {
            let status = response.status();
            let retry_after = crate::retry::retry_after(response.headers(), SystemTime::now());
            match read_limited(response).await {
                Ok(bytes) => {
                    let body = String::from_utf8_lossy(&bytes).into_owned();
                    Error::Api {
                        operation,
                        status,
                        error: ApiError::from_body(&bytes),
                        body,
                        retry_after,
                        attempts: report.attempts.max(1),
                    }
                }
                Err(source) => Error::Transport {
                    operation,
                    status: Some(status),
                    attempts: report.attempts.max(1),
                    source: source.without_url(),
                },
            }
        }
    }
}

/// Reads at most [`MAX_ERROR_BODY`] bytes of a body.
async fn read_limited(mut response: reqwest::Response) -> reqwest::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_ERROR_BODY.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    /// The future of a call is kept small: a few KB here (the unpolled
    /// request future, or an `Event` held across an `.await`) are copied on
    /// every call and grow every future that awaits it.
    #[test]
    fn call_futures_stay_small() {
        let client = crate::Client::builder("k")
            .base_url("http://127.0.0.1:9/v4")
            .build()
            .expect("client");
        let send = client.get_event().event_id("x").send();
        let size = std::mem::size_of_val(&send);
        assert!(
            size < 1024,
            "the future of get_event().send() is {size} bytes (an Event is {})",
            std::mem::size_of::<crate::types::Event>()
        );
        let search = client.search_events().limit(10).send();
        assert!(std::mem::size_of_val(&search) < 1024);
    }

    /// The future of `send()` may be made outside a runtime and awaited in
    /// one: nothing that needs the runtime is made before the first poll.
    #[test]
    fn send_can_be_made_outside_a_runtime() {
        let client = crate::Client::builder("k")
            .base_url("http://127.0.0.1:9/v4")
            .retry(crate::RetryPolicy::disabled())
            .build()
            .expect("client");
        let call = client.get_event().event_id("x").send();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let outcome = runtime.block_on(call);
        assert!(
            matches!(outcome, Err(crate::Error::Transport { .. })),
            "{outcome:?}"
        );
    }
}
