#!/bin/bash
@@BODY@@
