-- Files already in the warehouse with the fingerprint, size and last row they had when
-- ingested.
with files as (
    select file_path, fingerprint, bytes, last_row from wh_files
),

final as (
    select file_path, fingerprint, bytes, last_row from files order by file_path
)

select * from final
