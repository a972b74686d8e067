//! Several captures read as one, merged by capture time the way mergecap merges
//! them: of the inputs' next packets the earliest goes first, the later input on
//! equal times (Wireshark's `merge_read_packet` walks the inputs in order and takes
//! one whose time is not later than the best so far). Frames are renumbered from 1
//! in merged order, so the events equal those of the file mergecap writes.
//!
//! Memory: each input keeps only its own next packet, in its own buffer.

use super::{CaptureError, Packet, Reader};
use crate::model::{FrameNo, Timestamp};

/// What an input's next packet is; its bytes stay in the input's reader.
#[derive(Debug, Clone, Copy)]
struct Head {
    time: Timestamp,
    linktype: u32,
    original_len: u32,
}

struct Input {
    name: String,
    reader: Reader,
    /// The next packet, `None` once the input has ended.
    head: Option<Head>,
}

pub(super) struct Merge {
    inputs: Vec<Input>,
    started: bool,
    /// The input whose head was returned last: it reads its next packet first.
    taken: Option<usize>,
    frame: u64,
}

impl Merge {
    pub(super) fn new(inputs: Vec<(String, Reader)>) -> Merge {
        Merge {
            inputs: inputs
                .into_iter()
                .map(|(name, reader)| Input {
                    name,
                    reader,
                    head: None,
                })
                .collect(),
            started: false,
            taken: None,
            frame: 0,
        }
    }

    pub(super) fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if !self.started {
            self.started = true;
            for input in &mut self.inputs {
                input.advance()?;
            }
        } else if let Some(input) = self.taken.take().and_then(|i| self.inputs.get_mut(i)) {
            input.advance()?;
        }
        // The earliest head; `<=` takes the later input on equal times, as mergecap.
        let mut earliest: Option<(usize, Timestamp)> = None;
        for (i, input) in self.inputs.iter().enumerate() {
            if let Some(head) = input.head {
                if earliest.is_none_or(|(_, t)| head.time <= t) {
                    earliest = Some((i, head.time));
                }
            }
        }
        let Some((i, _)) = earliest else {
            return Ok(None);
        };
        let Some(input) = self.inputs.get(i) else {
            return Ok(None);
        };
        let Some(head) = input.head else {
            return Ok(None);
        };
        self.taken = Some(i);
        self.frame += 1;
        Ok(Some(Packet {
            frame: FrameNo(self.frame),
            time: head.time,
            linktype: head.linktype,
            original_len: head.original_len,
            data: input.reader.current_data(),
        }))
    }

    pub(super) fn current_data(&self) -> &[u8] {
        self.taken
            .and_then(|i| self.inputs.get(i))
            .map_or(&[], |input| input.reader.current_data())
    }
}

impl Input {
    /// Reads this input's next packet into `head`.
    fn advance(&mut self) -> Result<(), CaptureError> {
        let next = self
            .reader
            .next_packet()
            .map_err(|error| CaptureError::InInput {
                name: self.name.clone(),
                error: Box::new(error),
            })?;
        self.head = next.map(|p| Head {
            time: p.time,
            linktype: p.linktype,
            original_len: p.original_len,
        });
        Ok(())
    }
}
