-- Where the warehouse export of this run is: extract/warehouse_rows's view reads it (a view
-- cannot hold a bound parameter, a variable can).
set variable warehouse_export = $path
