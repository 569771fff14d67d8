-- HLS renditions (src/media/hls.rs): what a master playlist needs of each variant beyond its
-- average bit rate. `peak_bit_rate` is the highest bit rate of one segment (HLS's BANDWIDTH);
-- `codecs` the RFC 6381 codecs of its stream (`avc1.64001f`, `mp4a.40.2`). Both NULL for the
-- renditions that are single files.
ALTER TABLE media_renditions ADD COLUMN peak_bit_rate BIGINT;
ALTER TABLE media_renditions ADD COLUMN codecs TEXT;
