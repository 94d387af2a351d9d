-- The input the extract_read_* views read: its files and the CSV delimiter, as a session
-- variable (a view cannot hold bound parameters), set before each read.
set variable extract_source = {'files': $path::varchar [], 'delimiter': $delimiter::varchar}
