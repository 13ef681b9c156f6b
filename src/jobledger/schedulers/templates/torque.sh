#!/bin/bash
#PBS -S /bin/bash
@@BODY@@
