-- The input the extract_read_* views read: its files, the CSV delimiter and (JSON) the type
-- of every column, as a session variable (a view cannot hold bound parameters), set before
-- each read.
set variable extract_source = {
    'files': $path::varchar [], 'delimiter': $delimiter::varchar, 'columns': $columns
}
