-- Files already in the warehouse with the fingerprint they had when ingested.
with files as (
    select file_path, fingerprint from wh_files
),

final as (
    select file_path, fingerprint from files order by file_path
)

select * from final
