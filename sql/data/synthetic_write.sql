-- Write generated events (registered as `generated`) in the format the path's suffix names.
copy (select * from generated) to $path (format {{format}})
