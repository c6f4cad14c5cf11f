//! The watch on the server's messages that keeps a password from ever going out in clear text.

use super::{ConnectError, Io};

/// Reads the server's messages on their way to tokio-postgres until authentication is over, and
/// ends the connection (an I/O error, `refused` set) at an `AuthenticationCleartextPassword`
/// request, before tokio-postgres could answer it with the password.
pub(super) struct NoCleartext {
    inner: Box<dyn Io>,
    refused: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The current message's tag and length bytes, and for an `R` its method's.
    head: Vec<u8>,
    /// Bytes of the current message's body still to pass after `head`.
    rest: usize,
    /// Authentication is over (AuthenticationOk or any other message): nothing more to look at.
    done: bool,
}

impl NoCleartext {
    pub(super) fn new(
        inner: Box<dyn Io>,
        refused: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Self {
        NoCleartext {
            inner,
            refused,
            head: Vec::with_capacity(9),
            rest: 0,
            done: false,
        }
    }

    /// Looks at bytes the server sent; `Err` at a clear-text password request.
    fn look(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !self.done && !bytes.is_empty() {
            if self.rest > 0 {
                let n = self.rest.min(bytes.len());
                self.rest -= n;
                bytes = &bytes[n..];
                continue;
            }
            // Tag (1), length (4), and for `R` the method (4): that much judges a message.
            let want = |head: &[u8]| if head.first() == Some(&b'R') { 9 } else { 5 };
            while self.head.len() < want(&self.head) && !bytes.is_empty() {
                self.head.push(bytes[0]);
                bytes = &bytes[1..];
            }
            if self.head.len() < want(&self.head) {
                return Ok(());
            }
            let len = i32::from_be_bytes([self.head[1], self.head[2], self.head[3], self.head[4]]);
            let body = usize::try_from(len).unwrap_or(0).saturating_sub(4);
            if self.head[0] == b'R' {
                let method =
                    i32::from_be_bytes([self.head[5], self.head[6], self.head[7], self.head[8]]);
                if method == 3 {
                    self.refused
                        .store(true, std::sync::atomic::Ordering::SeqCst);
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::PermissionDenied,
                        ConnectError::Cleartext.to_string(),
                    ));
                }
                // AuthenticationOk: the password exchange is over.
                self.done = method == 0;
                self.rest = body.saturating_sub(4);
            } else {
                // An error ends the connection; anything else (a protocol negotiation, a notice)
                // is passed and the watch goes on.
                self.done = self.head[0] == b'E';
                self.rest = body;
            }
            self.head.clear();
        }
        Ok(())
    }
}

impl tokio::io::AsyncRead for NoCleartext {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match std::pin::Pin::new(&mut this.inner).poll_read(cx, buf) {
            std::task::Poll::Ready(Ok(())) => {
                let new = buf.filled()[before..].to_vec();
                if let Err(e) = this.look(&new) {
                    // Nothing of the request reaches tokio-postgres.
                    buf.set_filled(before);
                    return std::task::Poll::Ready(Err(e));
                }
                std::task::Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl tokio::io::AsyncWrite for NoCleartext {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The watch on the server's messages (also inside TLS): a clear-text request is refused
    /// wherever it falls in the stream, after a protocol negotiation or split across reads;
    /// after AuthenticationOk nothing more is looked at.
    #[test]
    fn the_cleartext_watch_finds_the_request_anywhere_in_the_stream() {
        let flag = || std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let guard = || NoCleartext::new(Box::new(tokio::io::empty()), flag());
        let cleartext = [b'R', 0, 0, 0, 8, 0, 0, 0, 3];
        let mut g = guard();
        assert!(g.look(&cleartext).is_err());
        assert!(g.refused.load(std::sync::atomic::Ordering::SeqCst));
        let mut g = guard();
        for b in cleartext {
            if g.look(&[b]).is_err() {
                break;
            }
        }
        assert!(g.refused.load(std::sync::atomic::Ordering::SeqCst), "split");
        // A NegotiateProtocolVersion ('v', 12 bytes) first, then the request.
        let mut g = guard();
        let mut bytes = vec![b'v', 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(&cleartext);
        assert!(g.look(&bytes).is_err());
        // SASL (10, with its mechanism list), SASL final, Ok: passed; then nothing is judged.
        let mut g = guard();
        let mut bytes = vec![b'R', 0, 0, 0, 23, 0, 0, 0, 10];
        bytes.extend_from_slice(b"SCRAM-SHA-256\0\0");
        bytes.extend_from_slice(&[b'R', 0, 0, 0, 8, 0, 0, 0, 0]);
        bytes.extend_from_slice(&cleartext);
        assert!(g.look(&bytes).is_ok());
    }
}
