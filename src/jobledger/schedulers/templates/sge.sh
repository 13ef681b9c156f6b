#!/bin/bash
#$ -S /bin/bash
@@BODY@@
