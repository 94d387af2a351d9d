from recsys.entry import console

# Guarded: Dask's LocalCluster spawns worker processes that re-import the main module.
if __name__ == "__main__":
    console()
