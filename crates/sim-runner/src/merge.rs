//! What `sim fuzz-merge` checks of the shards it is given before merging them (the merge itself
//! is [`crate::campaign::Summary::merge`]).

use crate::campaign::Summary;

/// Shards given to a merge are within their count: an edited summary's `5/2` covers none of
/// the seeds, and would let a merge with a shard missing look complete.
pub(crate) fn check_shards(summaries: &[Summary]) -> Result<(), String> {
    for shard in summaries.iter().flat_map(|s| &s.shards) {
        if shard.count == 0 || shard.index >= shard.count {
            return Err(format!(
                "shard {shard} is outside its count: shards of {} are numbered 0 to {}",
                shard.count,
                shard.count.saturating_sub(1)
            ));
        }
    }
    Ok(())
}
