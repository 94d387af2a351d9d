-- Where the warehouse export of this run is: extract_typed_warehouse's view reads it (a view
-- cannot hold a bound parameter, a variable can).
set variable warehouse_export = $path
